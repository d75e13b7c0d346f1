"""Loading the settings from defaults, a TOML file, environment variables and flags.

The only place in glmserve that reads the environment. Validated once at start-up;
every bad value or unknown key is a ``ConfigError`` whose message names the file, the
key and what is wrong. Precedence: command-line flag, then environment variable, then
the TOML file, then the built-in default. Every key: docs/configuration.md.

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
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from glmserve.catalog import (
    DEFAULT_MODEL_CODE,
    ModelSpec,
    Price,
    ThinkingBudgets,
    builtin_spec,
    generic_spec,
)
from glmserve.config.agents import agent_settings
from glmserve.config.batches import files_and_batches
from glmserve.config.client import DEFAULT_HF_ENDPOINT, ClientSettings
from glmserve.config.embeddings import embeddings
from glmserve.config.file import (
    AnthropicFile,
    ConfigFile,
    LimitsFile,
    ModelFile,
    PlatformFile,
    TierFile,
)
from glmserve.config.http import http_settings
from glmserve.config.images import image_settings
from glmserve.config.plans import plan_settings
from glmserve.config.platform import (
    DEFAULT_CONCURRENCY,
    TIERS,
    LimitSettings,
    PlatformSettings,
    TierLimits,
)
from glmserve.config.remote import REMOTE_KEYS, remote_config
from glmserve.config.settings import (
    DEFAULT_HOST,
    DEFAULT_MODEL_ENGINE,
    DEFAULT_PORT,
    ENGINE_DEFAULTS,
    AnthropicModels,
    ConfigError,
    ModelConfig,
    Settings,
    default_claude_models,
)

__all__ = ["load_settings", "client_settings", "default_threads"]


def load_settings(
    config_path: str | Path | None = None,
    *,
    host: str | None = None,
    port: int | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Build the settings; raise ConfigError with a clear message on any bad value."""
    env = os.environ if environ is None else environ
    path_text = str(config_path) if config_path else env.get("GLMSERVE_CONFIG")
    path = Path(path_text).expanduser() if path_text else None
    parsed = _read_file(path) if path else ConfigFile()
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
        files, batches = files_and_batches(parsed.files, parsed.batches, env)
        plans = plan_settings(parsed.plans, parsed.plan_counting)
        platform = replace(platform, files=files, batches=batches, plans=plans)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        safety = parsed.safety.settings([m.code for m in models])
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        embedding = embeddings(parsed.embeddings, path, default_threads(), where)
        images = image_settings(parsed.images, path, default_threads(), where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        search = parsed.search.settings(path.parent if path else None)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    try:
        agents = agent_settings(parsed.agents, [m.code for m in models], where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Settings(
        host=host or env.get("GLMSERVE_HOST") or server.host or DEFAULT_HOST,
        port=_port(port, env.get("GLMSERVE_PORT"), server.port),
        models=tuple(models),
        cache_dir=_path(cache_text),
        keepalive_seconds=server.keepalive_seconds,
        prompt_log=_path(env.get("GLMSERVE_PROMPT_LOG") or server.prompt_log),
        config_path=path,
        platform=platform,
        anthropic=_claude_models(parsed.anthropic, [m.code for m in models], where),
        embeddings=embedding,
        http=http_settings(parsed.http),
        media=parsed.media.settings(),
        search=search,
        reader=parsed.reader.settings(),
        safety=safety,
        disabled_apis=tuple(parsed.apis.disabled),
        agents=agents,
        images=images,
    )


def client_settings(
    config_path: str | Path | None = None, *, environ: Mapping[str, str] | None = None
) -> ClientSettings:
    """The settings ``glmserve chat``, ``run`` and ``pull`` use (docs/cli.md)."""
    env = os.environ if environ is None else environ
    settings = load_settings(config_path, environ=env)
    host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(settings.host, settings.host)
    host = f"[{host}]" if ":" in host else host
    return ClientSettings(
        base_url=f"http://{host}:{settings.port}/api/paas/v4",
        api_key=env.get("GLMSERVE_API_KEY") or env.get("ZAI_API_KEY") or None,
        hf_endpoint=(env.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT).rstrip("/"),
        hf_token=env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or None,
        cache_dir=settings.cache_dir,
    )


def _claude_models(entry: AnthropicFile, served: list[str], where: str) -> AnthropicModels:
    defaults = default_claude_models(served)
    given = entry.model_dump(exclude_none=True)
    for family, code in given.items():
        if code not in served:
            raise ConfigError(
                f"{where}: anthropic.{family} = {code!r} is not a served model "
                f"(served: {', '.join(served)})"
            )
    return replace(defaults, **given)


def _read_file(path: Path) -> ConfigFile:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    try:
        return ConfigFile.model_validate(raw)
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


def _path(text: str | None) -> Path | None:
    return Path(text).expanduser() if text else None


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


def _model_config(entry: ModelFile, path: Path | None, where: str, index: int) -> ModelConfig:
    label = f"{where}: models[{index}] ({entry.code})"
    base = builtin_spec(entry.code) or generic_spec(entry.code)
    spec = _override_spec(base, entry, label)
    if entry.engine == "remote":
        return remote_config(spec, entry, path, label)
    remote_only = [k for k in REMOTE_KEYS if getattr(entry, k) is not None]
    if remote_only:
        raise ConfigError(f'{label}: {", ".join(remote_only)} need engine = "remote"')
    gguf: Path | None = None
    if entry.gguf is not None:
        gguf = Path(entry.gguf).expanduser()
        if not gguf.is_absolute() and path is not None:
            gguf = path.parent / gguf
        if not gguf.is_file():
            raise ConfigError(f"{label}: gguf file {gguf} does not exist")
    elif entry.code != DEFAULT_MODEL_CODE:
        raise ConfigError(f"{label}: 'gguf' (path to the model's GGUF file) is required")
    config = _engine_config(spec, gguf, entry)
    return _vision(config, entry, path, label)


def _vision(config: ModelConfig, entry: ModelFile, path: Path | None, label: str) -> ModelConfig:
    """A projector makes the model see (unless capabilities.vision says false); vision
    without one is refused, never a silent drop of the images."""
    said = entry.capabilities.vision if entry.capabilities is not None else None
    if entry.mmproj is None:
        if said:
            raise ConfigError(f"{label}: capabilities.vision = true needs 'mmproj' (a projector)")
        return config
    mmproj = _file(entry.mmproj, path, f"{label}: mmproj")
    caps = replace(config.spec.capabilities, vision=said is not False)
    return replace(config, mmproj=mmproj, spec=replace(config.spec, capabilities=caps))


def _file(text: str, config_path: Path | None, what: str) -> Path:
    """A file named in the config, relative to the config file's folder."""
    found = Path(text).expanduser()
    if not found.is_absolute() and config_path is not None:
        found = config_path.parent / found
    if not found.is_file():
        raise ConfigError(f"{what} file {found} does not exist")
    return found


def _engine_config(spec: ModelSpec, gguf: Path | None, entry: ModelFile | None) -> ModelConfig:
    """How the model runs: the entry's values over the defaults (the embedded default
    model's own when there are no weights given)."""
    defaults = DEFAULT_MODEL_ENGINE if gguf is None else ENGINE_DEFAULTS
    given = entry.model_dump(exclude_none=True) if entry is not None else {}
    context = given.get("context_size") or min(spec.context_window, defaults.context_size)
    return ModelConfig(
        spec=spec,
        gguf=gguf,
        context_size=context,
        threads=given.get("threads") or default_threads(),
        engine=given.get("engine", "llama"),
        batch_size=given.get("batch_size", defaults.batch_size),
        max_running=given.get("max_running", defaults.max_running),
        queue_limit=given.get("queue_limit", defaults.queue_limit),
        context_explicit="context_size" in given,
        batch_invariant=given.get("batch_invariant", defaults.batch_invariant),
    )


def _override_spec(base: ModelSpec, entry: ModelFile, label: str) -> ModelSpec:
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
        thinking_budgets=_budgets(base.thinking_budgets, entry),
    )
    if spec.default_max_tokens > spec.max_max_tokens:
        raise ConfigError(
            f"{label}: default_max_tokens ({spec.default_max_tokens}) is above "
            f"max_tokens ({spec.max_max_tokens})"
        )
    if caps.thinking_default and not caps.thinking:
        raise ConfigError(f"{label}: capabilities.thinking_default needs capabilities.thinking")
    return spec


def _budgets(base: ThinkingBudgets, entry: ModelFile) -> ThinkingBudgets:
    """The entry's thinking_budget, thinking_closing and answer_min_tokens over the
    catalog's (docs/configuration.md)."""
    return replace(
        base,
        default=entry.thinking_budget or base.default,
        closing=base.closing if entry.thinking_closing is None else entry.thinking_closing,
        answer_min_tokens=entry.answer_min_tokens or base.answer_min_tokens,
    )


def _default_model_config() -> ModelConfig:
    spec = builtin_spec(DEFAULT_MODEL_CODE)
    assert spec is not None
    return _engine_config(spec, None, None)


def default_threads() -> int:
    """Threads for decoding: the CPUs this process may use (llama.cpp scales to them)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def platform_settings(
    platform: PlatformFile, limits: LimitsFile, env: Mapping[str, str]
) -> PlatformSettings:
    """Merge the file's sections with the environment (which wins)."""
    tiers: dict[str, TierLimits] = {}
    for tier in TIERS:
        entry: TierFile = getattr(limits, tier)
        concurrency = DEFAULT_CONCURRENCY[tier] if entry.concurrency is None else entry.concurrency
        tiers[tier] = TierLimits(concurrency, entry.rpm, entry.daily)
    models = {
        code: {t: v for t, v in entry.model_dump(exclude_none=True).items()}
        for code, entry in limits.models.items()
    }
    admin_key = env.get("GLMSERVE_ADMIN_KEY") or platform.admin_key
    if admin_key is not None and len(admin_key) < 16:
        raise ValueError("the admin key (GLMSERVE_ADMIN_KEY) must be at least 16 characters")
    if platform.admin_metrics and not admin_key:
        raise ValueError("[platform] admin_metrics = true needs an admin key (admin_key)")
    secret_key = env.get("GLMSERVE_SECRET_KEY") or platform.secret_key
    if secret_key is not None and len(secret_key) < 32:
        raise ValueError("the secret key (GLMSERVE_SECRET_KEY) must be at least 32 characters")
    open_env = env.get("GLMSERVE_OPEN", "").strip().lower()
    if open_env not in ("", "0", "1", "true", "false", "yes", "no"):
        raise ValueError(f"GLMSERVE_OPEN must be 1 or 0, got {open_env!r}")
    data_dir = env.get("GLMSERVE_DATA_DIR") or platform.data_dir
    redis_url = env.get("GLMSERVE_REDIS_URL") or platform.redis_url
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError(
            f"the Redis URL must start with redis://, rediss:// or unix://: {redis_url!r}"
        )
    return PlatformSettings(
        database_url=env.get("GLMSERVE_DATABASE_URL") or platform.database_url,
        redis_url=redis_url,
        admin_key=admin_key,
        secret_key=secret_key,
        open_access=open_env in ("1", "true", "yes") if open_env else platform.open,
        data_dir=Path(data_dir).expanduser() if data_dir else None,
        limits=LimitSettings(
            tiers=tiers,
            models=models,
            lease_seconds=limits.lease_seconds,
            global_rpm=limits.global_rpm,
            blocked_user_ids=frozenset(limits.blocked_user_ids),
        ),
        task_workers=platform.task_workers,
        task_retention_seconds=int(platform.task_retention_hours * 3600),
        max_queued_tasks_per_key=platform.max_queued_tasks_per_key,
        default_key_tier=platform.default_key_tier,
        jwt_max_lifetime_seconds=platform.jwt_max_lifetime_seconds,
        admin_metrics=platform.admin_metrics,
    )
