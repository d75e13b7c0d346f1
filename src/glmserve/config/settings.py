"""The validated settings: frozen dataclasses built once at start-up by ``load.py``.

Engine defaults live here and nowhere else (``EngineDefaults``); the catalog supplies
each model code's documented defaults (``glmserve.catalog``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args
from urllib.parse import urlsplit

from glmserve.catalog import ModelSpec
from glmserve.config.agents import AgentSettings
from glmserve.config.embeddings import EmbeddingSettings
from glmserve.config.http import HttpSettings
from glmserve.config.media import MediaSettings
from glmserve.config.platform import PlatformSettings
from glmserve.config.safety import SafetySettings
from glmserve.config.search import ReaderSettings, SearchSettings

__all__ = [
    "AnthropicModels",
    "ConfigError",
    "EngineDefaults",
    "ENGINE_DEFAULTS",
    "DEFAULT_MODEL_ENGINE",
    "EngineKind",
    "ModelConfig",
    "RemoteWorker",
    "RoutingPolicy",
    "WorkerKind",
    "Settings",
    "default_claude_models",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

EngineKind = Literal["llama", "remote"]
"""Which engine serves a model: "llama", embedded llama.cpp in a worker process, or
"remote", inference servers reached with token IDs (docs/remote-engine.md)."""

WorkerKind = Literal["vllm", "sglang", "llama-server"]
RoutingPolicy = Literal["prefix", "least-loaded", "round-robin"]
DEFAULT_MAX_IN_FLIGHT = 64


@dataclass(frozen=True)
class RemoteWorker:
    """One ``[[models.workers]]`` entry: an inference server its operator runs. The
    remote engine takes it as it is (``engine.remote.WorkerSpec`` is this class), so
    a worker is declared, and its values checked, once."""

    url: str
    """Base URL, e.g. ``http://10.0.0.11:8000`` (the adapter adds the endpoint path)."""
    kind: WorkerKind
    model: str | None = None
    """The model name the worker serves, where its API takes one (vLLM; llama-server
    in router mode); SGLang serves one model and is sent none."""
    api_key: str | None = None
    """Sent as ``Authorization: Bearer <key>``."""
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    """Requests this gateway sends it at once; past that it is not routed to."""

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"worker url {self.url!r}: expected http(s)://host[:port]")
        kinds = get_args(WorkerKind)
        if self.kind not in kinds:
            raise ValueError(
                f"worker {self.url}: kind {self.kind!r} is not one of {', '.join(kinds)}"
            )
        if not isinstance(self.max_in_flight, int) or self.max_in_flight < 1:
            raise ValueError(f"worker {self.url}: max_in_flight must be a positive integer")
        if self.model is not None and not self.model:
            raise ValueError(f"worker {self.url}: model must not be empty")

    @property
    def base_url(self) -> str:
        return self.url.rstrip("/")


class ConfigError(Exception):
    """A bad setting; the message is meant for the person who wrote the config."""


@dataclass(frozen=True)
class EngineDefaults:
    """What a model's engine gets when the config does not say."""

    context_size: int = 32768
    """A user model's served context: the KV cache of a 200K window does not fit most
    single machines, so we start smaller (capped at the model's trained context)."""
    batch_size: int = 512
    max_running: int = 4
    queue_limit: int = 256
    batch_invariant: bool = False
    """llama.cpp's fastest kernels by default; true is the opt-in deterministic mode."""


ENGINE_DEFAULTS = EngineDefaults()
DEFAULT_MODEL_ENGINE = EngineDefaults(context_size=4096, max_running=8)
"""The embedded default model: a small context, more sequences at once."""


@dataclass(frozen=True)
class ModelConfig:
    """One served model: its catalog entry (with overrides) and how to run it."""

    spec: ModelSpec
    gguf: Path | None
    """The weights; None means the embedded default model, assembled on first use."""
    context_size: int
    threads: int
    engine: EngineKind = "llama"
    batch_size: int = ENGINE_DEFAULTS.batch_size
    max_running: int = ENGINE_DEFAULTS.max_running
    """Sequences decoded together (continuous batching). Each has a KV stream of
    context_size cells: KV memory is max_running x context_size tokens."""
    queue_limit: int = ENGINE_DEFAULTS.queue_limit
    """Requests that may wait for a free sequence; more get 429 / 1312."""
    context_explicit: bool = False
    """The config set context_size; otherwise it is capped at the model's trained context."""
    batch_invariant: bool = ENGINE_DEFAULTS.batch_invariant
    """Opt-in: greedy output independent of batch shape (alone or among other requests,
    cached or not). Costs speed on CPU (no flash attention, no repacked weights)."""

    tokenizer: Path | None = None
    """engine "remote": the model's tokenizer, a Hugging Face folder or a GGUF."""
    routing: RoutingPolicy = "prefix"
    """engine "remote": how requests are spread over the workers."""
    workers: tuple[RemoteWorker, ...] = ()
    """engine "remote": the inference servers."""
    mmproj: Path | None = None
    """engine "llama": the vision projector GGUF; with it the model takes images."""

    @property
    def code(self) -> str:
        return self.spec.code


@dataclass(frozen=True)
class AnthropicModels:
    """Which served model answers each family of ``claude-*`` names on the Anthropic
    endpoint (as Z.AI maps opus and sonnet to GLM-4.7 and haiku to GLM-4.5-Air)."""

    opus: str
    sonnet: str
    haiku: str
    other: str
    """Any other ``claude-*`` name."""

    def resolve(self, name: str) -> str:
        """The served model code for a requested name; names that are not ``claude-*``
        are model codes already and pass through unchanged."""
        lowered = name.lower()
        if not lowered.startswith("claude"):
            return name
        for family in ("opus", "sonnet", "haiku"):
            if family in lowered:
                code: str = getattr(self, family)
                return code
        return self.other


def default_claude_models(served: list[str]) -> AnthropicModels:
    """Z.AI's mapping where those models are served, else the first served model."""
    first = served[0]
    big = "glm-4.7" if "glm-4.7" in served else first
    small = "glm-4.5-air" if "glm-4.5-air" in served else big
    return AnthropicModels(opus=big, sonnet=big, haiku=small, other=big)


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    models: tuple[ModelConfig, ...]
    cache_dir: Path | None
    keepalive_seconds: float
    config_path: Path | None = None
    platform: PlatformSettings = field(default_factory=PlatformSettings)
    anthropic: AnthropicModels | None = None
    """claude-* name mapping; None means the defaults over the served models."""
    prompt_log: Path | None = None
    """Append every rendered prompt to this file as a JSON line (template debugging)."""
    embeddings: EmbeddingSettings = field(default_factory=EmbeddingSettings)
    """Embedding models and the rerank endpoint (docs/embeddings.md)."""
    http: HttpSettings = field(default_factory=HttpSettings)
    """Request limits, client timeouts, CORS (config/http.py)."""
    media: MediaSettings = field(default_factory=MediaSettings)
    """Fetching and limits of images, video and documents in chat ([media])."""
    search: SearchSettings = field(default_factory=SearchSettings)
    """The web search back end ([search], docs/search.md)."""
    reader: ReaderSettings = field(default_factory=ReaderSettings)
    """The web reader's fetching and cache ([reader], docs/search.md)."""
    safety: SafetySettings = field(default_factory=SafetySettings)
    """Content safety: keyword list, guard model, moderation price ([safety])."""
    disabled_apis: tuple[str, ...] = ()
    """APIs turned off here ([apis] disabled; config/apis.py): they answer 1221."""
    agents: AgentSettings = field(default_factory=AgentSettings)
    """The agents API ([agents], docs/agents.md)."""

    @property
    def claude_models(self) -> AnthropicModels:
        return self.anthropic or default_claude_models([m.code for m in self.models])

    def model(self, code: str) -> ModelConfig | None:
        return next((m for m in self.models if m.code == code), None)
