"""Settings: one object, from defaults, a TOML file, environment variables and flags.

Validated once at start-up; every bad value or unknown key is a ``ConfigError`` whose
message names the file, the key and what is wrong. Precedence: command-line flag, then
environment variable, then the TOML file, then the built-in default.

Example file::

    [server]
    host = "0.0.0.0"
    port = 8080

    [[models]]
    code = "glm-4.7-flash"            # a catalog code: inherits Z.AI's defaults
    gguf = "/models/GLM-4.7-Flash-Q4_K_M.gguf"
    context_size = 32768
    threads = 8
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from glmserve.catalog import (
    DEFAULT_MODEL_CODE,
    ModelSpec,
    Price,
    builtin_spec,
    generic_spec,
)
from glmserve.platform.settings import (
    LimitsFile,
    PlatformFile,
    PlatformSettings,
    platform_settings,
)

__all__ = [
    "AnthropicModels",
    "ConfigError",
    "ModelConfig",
    "Settings",
    "default_claude_models",
    "load_settings",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080
DEFAULT_MAX_CONTEXT = 32768
"""A user model's served context when the config does not say: the KV cache of a 200K
window does not fit most single machines, so we start smaller and say so at start-up."""
DEFAULT_MODEL_CONTEXT = 4096


class ConfigError(Exception):
    """A bad setting; the message is meant for the person who wrote the config."""


@dataclass(frozen=True)
class ModelConfig:
    """One served model: its catalog entry (with overrides) and how to run it."""

    spec: ModelSpec
    gguf: Path | None
    """The weights; None means the embedded default model, assembled on first use."""
    context_size: int
    threads: int
    batch_size: int
    max_running: int = 4
    """Sequences decoded together (continuous batching). Each has a KV stream of
    context_size cells: KV memory is max_running x context_size tokens."""
    queue_limit: int = 256
    """Requests that may wait for a free sequence; more get 429 / 1312."""
    context_explicit: bool = False
    """The config set context_size; otherwise it is capped at the model's trained context."""
    batch_invariant: bool = True
    """Greedy output independent of batch shape: alone or among other requests, cached
    or not. Costs some speed on CPU (no flash attention, no repacked weights)."""

    @property
    def code(self) -> str:
        return self.spec.code


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

    @property
    def claude_models(self) -> AnthropicModels:
        return self.anthropic or default_claude_models([m.code for m in self.models])

    def model(self, code: str) -> ModelConfig | None:
        return next((m for m in self.models if m.code == code), None)


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


# --- the file's schema -------------------------------------------------------------


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


class _ModelFile(_Strict):
    code: str
    gguf: str | None = None
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


class _AnthropicFile(_Strict):
    """``[anthropic]``: served model codes for claude-* names (unset: the defaults)."""

    opus: str | None = None
    sonnet: str | None = None
    haiku: str | None = None
    other: str | None = None


class _File(_Strict):
    server: _ServerFile = Field(default_factory=_ServerFile)
    anthropic: _AnthropicFile = Field(default_factory=_AnthropicFile)
    models: list[_ModelFile] = Field(default_factory=list)
    platform: PlatformFile = Field(default_factory=PlatformFile)
    limits: LimitsFile = Field(default_factory=LimitsFile)


# --- loading -----------------------------------------------------------------------


def load_settings(
    config_path: str | Path | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Build the settings; raise ConfigError with a clear message on any bad value."""
    env = os.environ if environ is None else environ
    path_text = str(config_path) if config_path else env.get("GLMSERVE_CONFIG")
    path = Path(path_text).expanduser() if path_text else None
    parsed = _read_file(path) if path else _File()
    server = parsed.server
    where = str(path) if path else "settings"

    models = [_model_config(m, path, where, i) for i, m in enumerate(parsed.models)]
    codes = [m.code for m in models]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ConfigError(f"{where}: model code(s) {', '.join(duplicates)} appear more than once")
    if server.default_model and DEFAULT_MODEL_CODE not in codes:
        models.append(_default_model_config())
    if not models:
        raise ConfigError(
            f"{where}: no models to serve ([server] default_model = false and no [[models]])"
        )

    cache_text = env.get("GLMSERVE_CACHE_DIR") or server.cache_dir
    try:
        platform = platform_settings(parsed.platform, parsed.limits, env)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    return Settings(
        host=host or env.get("GLMSERVE_HOST") or server.host or DEFAULT_HOST,
        port=_port(port, env.get("GLMSERVE_PORT"), server.port),
        models=tuple(models),
        cache_dir=Path(cache_text).expanduser() if cache_text else None,
        keepalive_seconds=server.keepalive_seconds,
        config_path=path,
        platform=platform,
        anthropic=_claude_models(parsed.anthropic, [m.code for m in models], where),
    )


def _claude_models(entry: _AnthropicFile, served: list[str], where: str) -> AnthropicModels:
    defaults = default_claude_models(served)
    given = entry.model_dump(exclude_none=True)
    for family, code in given.items():
        if code not in served:
            raise ConfigError(
                f"{where}: anthropic.{family} = {code!r} is not a served model "
                f"(served: {', '.join(served)})"
            )
    return replace(defaults, **given)


def _read_file(path: Path) -> _File:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    try:
        return _File.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_explain(path, exc)) from None


def _explain(path: Path, exc: ValidationError) -> str:
    lines = [f"config file {path} has {exc.error_count()} error(s):"]
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        else:
            lines.append(f"  {key}: {err['msg']} (got {err.get('input')!r})")
    return "\n".join(lines)


def _port(flag: int | None, env_value: str | None, file_value: int | None) -> int:
    if flag is not None:
        value: Any = flag
    elif env_value:
        value = env_value
    else:
        value = file_value if file_value is not None else DEFAULT_PORT
    try:
        port = int(value)
    except ValueError:
        raise ConfigError(f"port must be a whole number, got {value!r}") from None
    if not 1 <= port <= 65535:
        raise ConfigError(f"port must be between 1 and 65535, got {port}")
    return port


def _model_config(entry: _ModelFile, path: Path | None, where: str, index: int) -> ModelConfig:
    label = f"{where}: models[{index}] ({entry.code})"
    base = builtin_spec(entry.code) or generic_spec(entry.code)
    spec = _override_spec(base, entry, label)
    gguf: Path | None = None
    if entry.gguf is not None:
        gguf = Path(entry.gguf).expanduser()
        if not gguf.is_absolute() and path is not None:
            gguf = path.parent / gguf
        if not gguf.is_file():
            raise ConfigError(f"{label}: gguf file {gguf} does not exist")
    elif entry.code != DEFAULT_MODEL_CODE:
        raise ConfigError(f"{label}: 'gguf' (path to the model's GGUF file) is required")
    default_context = DEFAULT_MODEL_CONTEXT if gguf is None else DEFAULT_MAX_CONTEXT
    context = entry.context_size or min(spec.context_window, default_context)
    return ModelConfig(
        spec=spec,
        gguf=gguf,
        context_size=context,
        threads=entry.threads or default_threads(),
        batch_size=entry.batch_size or 512,
        max_running=entry.max_running or 4,
        queue_limit=256 if entry.queue_limit is None else entry.queue_limit,
        context_explicit=entry.context_size is not None,
        batch_invariant=True if entry.batch_invariant is None else entry.batch_invariant,
    )


def _override_spec(base: ModelSpec, entry: _ModelFile, label: str) -> ModelSpec:
    caps = base.capabilities
    if entry.capabilities is not None:
        given = entry.capabilities.model_dump(exclude_none=True)
        caps = replace(caps, **given)
    spec = replace(
        base,
        family=entry.family or base.family,
        builtin_format=entry.prompt_format or base.builtin_format,
        default_max_tokens=entry.default_max_tokens or base.default_max_tokens,
        max_max_tokens=entry.max_tokens or base.max_max_tokens,
        temperature=base.temperature if entry.temperature is None else entry.temperature,
        top_p=entry.top_p or base.top_p,
        capabilities=caps,
        price=Price(**entry.price.model_dump()) if entry.price else base.price,
    )
    if spec.default_max_tokens > spec.max_max_tokens:
        raise ConfigError(
            f"{label}: default_max_tokens ({spec.default_max_tokens}) is above "
            f"max_tokens ({spec.max_max_tokens})"
        )
    if caps.thinking_default and not caps.thinking:
        raise ConfigError(f"{label}: capabilities.thinking_default needs capabilities.thinking")
    return spec


def _default_model_config() -> ModelConfig:
    spec = builtin_spec(DEFAULT_MODEL_CODE)
    assert spec is not None
    return ModelConfig(
        spec=spec,
        gguf=None,
        context_size=DEFAULT_MODEL_CONTEXT,
        threads=default_threads(),
        batch_size=512,
        max_running=8,
    )


def default_threads() -> int:
    """Threads for decoding: the CPUs this process may use (llama.cpp scales to them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
