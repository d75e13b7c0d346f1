"""The TOML file's schema: strict pydantic models, one per section.

Unknown keys and values of the wrong type are errors (``load.py`` turns them into a
``ConfigError`` naming the file and the key). What each key means: docs/configuration.md.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from glmserve.config.agents import AgentsFile
from glmserve.config.apis import ApisFile
from glmserve.config.batches import BatchesFile, FilesFile
from glmserve.config.http import HttpFile
from glmserve.config.images import ImagesFile
from glmserve.config.media import MediaFile
from glmserve.config.plans import PlanCountingFile, PlanFile
from glmserve.config.platform import Tier
from glmserve.config.safety import SafetyFile
from glmserve.config.search import ReaderFile, SearchFile

__all__ = [
    "ConfigFile",
    "ModelFile",
    "PlatformFile",
    "LimitsFile",
    "TierFile",
    "AnthropicFile",
    "EmbeddingsFile",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _CapabilitiesFile(_Strict):
    thinking: bool | None = None
    thinking_default: bool | None = None
    tools: bool | None = None
    tool_stream: bool | None = None
    vision: bool | None = None


class _PriceFile(_Strict):
    input: float = Field(ge=0)
    cached_input: float = Field(ge=0)
    output: float = Field(ge=0)


class _WorkerFile(_Strict):
    """``[[models.workers]]``: one inference server of a remote model."""

    url: str
    kind: Literal["vllm", "sglang", "llama-server"]
    model: str | None = Field(default=None, min_length=1)
    api_key: str | None = Field(default=None, min_length=1)
    max_in_flight: int | None = Field(default=None, ge=1, le=100000)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s:?#]+(:[0-9]{1,5})?(/[^\s?#]*)?", value):
            raise ValueError("must be http(s)://host[:port][/path], e.g. 'http://10.0.0.11:8000'")
        return value


class ModelFile(_Strict):
    code: str
    engine: Literal["llama", "remote"] = "llama"
    gguf: str | None = None
    mmproj: str | None = None
    """The vision projector GGUF (engine "llama"): the model then takes images."""
    tokenizer: str | None = None
    """engine "remote": a Hugging Face folder (tokenizer.json...) or a GGUF."""
    routing: Literal["prefix", "least-loaded", "round-robin"] | None = None
    workers: list[_WorkerFile] | None = None
    context_size: int | None = Field(default=None, ge=256)
    threads: int | None = Field(default=None, ge=1, le=1024)
    batch_size: int | None = Field(default=None, ge=1, le=65536)
    max_running: int | None = Field(default=None, ge=1, le=256)
    queue_limit: int | None = Field(default=None, ge=0)
    batch_invariant: bool | None = None
    default_max_tokens: int | None = Field(default=None, ge=1)
    max_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=1.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    family: Literal["glm47", "glm45", "gemma", "generic"] | None = None
    prompt_format: Literal["transcript", "chatml"] | None = None
    """Built-in prompt format for weights without a chat template."""
    capabilities: _CapabilitiesFile | None = None
    price: _PriceFile | None = None
    thinking_budget: int | None = Field(default=None, ge=1)
    thinking_closing: str | None = Field(default=None, max_length=2000)
    answer_min_tokens: int | None = Field(default=None, ge=1)

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}", value):
            raise ValueError("must be 1-128 letters, digits or . _ : / - (e.g. 'glm-4.7')")
        return value


class _ServerFile(_Strict):
    host: str | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    default_model: bool = True
    """Serve the embedded default model (gemma-3-270m) beside the configured ones."""
    cache_dir: str | None = None
    keepalive_seconds: float = Field(default=15.0, gt=0)
    prompt_log: str | None = None
    """Append each rendered prompt to this file (JSON lines), for template debugging."""


class AnthropicFile(_Strict):
    """``[anthropic]``: served model codes for claude-* names (unset: the defaults)."""

    opus: str | None = None
    sonnet: str | None = None
    haiku: str | None = None
    other: str | None = None


class PlatformFile(_Strict):
    database_url: str | None = None
    redis_url: str | None = None
    admin_key: str | None = Field(default=None, min_length=16)
    secret_key: str | None = Field(default=None, min_length=32)
    open: bool = False
    data_dir: str | None = None
    task_workers: int = Field(default=2, ge=0, le=64)
    task_retention_hours: float = Field(default=72, gt=0)
    max_queued_tasks_per_key: int = Field(default=100, ge=1)
    default_key_tier: Tier = "V3"
    jwt_max_lifetime_seconds: int = Field(default=210, ge=1, le=30 * 24 * 3600)
    admin_metrics: bool = False


class TierFile(_Strict):
    concurrency: int | None = Field(default=None, ge=0)
    rpm: int = Field(default=0, ge=0)
    daily: int = Field(default=0, ge=0)


class _ModelLimitsFile(_Strict):
    V0: int | None = Field(default=None, ge=0)
    V1: int | None = Field(default=None, ge=0)
    V2: int | None = Field(default=None, ge=0)
    V3: int | None = Field(default=None, ge=0)


class LimitsFile(_Strict):
    lease_seconds: float = Field(default=30.0, ge=1, le=3600)
    global_rpm: int = Field(default=0, ge=0)
    blocked_user_ids: list[str] = Field(default_factory=list)
    V0: TierFile = Field(default_factory=TierFile)
    V1: TierFile = Field(default_factory=TierFile)
    V2: TierFile = Field(default_factory=TierFile)
    V3: TierFile = Field(default_factory=TierFile)
    models: dict[str, _ModelLimitsFile] = Field(default_factory=dict)


class _EmbeddingModelFile(_Strict):
    """``[[embeddings.models]]``: a user's own embedding GGUF (docs/embeddings.md)."""

    code: str
    gguf: str
    aliases: list[str] = Field(default_factory=list)
    max_input_tokens: int | None = Field(default=None, ge=1)
    matryoshka: bool = False
    truncate: bool = False
    threads: int | None = Field(default=None, ge=1, le=1024)
    batch_size: int = Field(default=1024, ge=32, le=65536)
    price: float | None = Field(default=None, ge=0)

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        return ModelFile._code_shape(value)


class EmbeddingsFile(_Strict):
    """``[embeddings]``: the embedding models and the cosine rerank (docs/embeddings.md)."""

    default_model: bool = True
    """Serve all-MiniLM-L6-v2 (converted to GGUF on first use) as all-minilm-l6-v2."""
    aliases: list[str] = Field(default_factory=lambda: ["embedding-3"])
    """Other codes that name the default embedding model."""
    truncate: bool = False
    threads: int | None = Field(default=None, ge=1, le=1024)
    batch_size: int = Field(default=1024, ge=32, le=65536)
    rerank: str | None = None
    """The embedding model (code) whose cosine similarity ranks ``/rerank`` documents."""
    models: list[_EmbeddingModelFile] = Field(default_factory=list)


class ConfigFile(_Strict):
    server: _ServerFile = Field(default_factory=_ServerFile)
    anthropic: AnthropicFile = Field(default_factory=AnthropicFile)
    models: list[ModelFile] = Field(default_factory=list)
    platform: PlatformFile = Field(default_factory=PlatformFile)
    limits: LimitsFile = Field(default_factory=LimitsFile)
    embeddings: EmbeddingsFile = Field(default_factory=EmbeddingsFile)
    http: HttpFile = Field(default_factory=HttpFile)
    files: FilesFile = Field(default_factory=FilesFile)
    batches: BatchesFile = Field(default_factory=BatchesFile)
    media: MediaFile = Field(default_factory=MediaFile)
    search: SearchFile = Field(default_factory=SearchFile)
    reader: ReaderFile = Field(default_factory=ReaderFile)
    safety: SafetyFile = Field(default_factory=SafetyFile)
    plans: list[PlanFile] = Field(default_factory=list)
    plan_counting: PlanCountingFile = Field(default_factory=PlanCountingFile)
    apis: ApisFile = Field(default_factory=ApisFile)
    agents: AgentsFile = Field(default_factory=AgentsFile)
    images: ImagesFile = Field(default_factory=ImagesFile)
