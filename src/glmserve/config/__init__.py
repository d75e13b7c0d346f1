"""One settings object from flags, environment and the TOML file, validated once at
start-up (``load_settings``); the only place in glmserve that reads the environment.

- ``settings.py``: the validated values (``Settings``, ``ModelConfig``) and the engine
  defaults;
- ``platform.py``: the platform's values (storage, access, limits, tasks);
- ``file.py``: the TOML file's schema;
- ``load.py``: reading the file and the environment into ``Settings``.
"""

from glmserve.config.http import HttpSettings
from glmserve.config.load import default_threads, load_settings
from glmserve.config.platform import (
    TIERS,
    LimitSettings,
    PlatformSettings,
    Tier,
    TierLimits,
)
from glmserve.config.settings import (
    DEFAULT_MODEL_ENGINE,
    ENGINE_DEFAULTS,
    AnthropicModels,
    ConfigError,
    EngineDefaults,
    EngineKind,
    ModelConfig,
    RemoteWorker,
    RoutingPolicy,
    Settings,
    WorkerKind,
    default_claude_models,
)

__all__ = [
    "AnthropicModels",
    "ConfigError",
    "DEFAULT_MODEL_ENGINE",
    "ENGINE_DEFAULTS",
    "EngineDefaults",
    "EngineKind",
    "HttpSettings",
    "LimitSettings",
    "ModelConfig",
    "PlatformSettings",
    "RemoteWorker",
    "RoutingPolicy",
    "Settings",
    "TIERS",
    "Tier",
    "TierLimits",
    "WorkerKind",
    "default_claude_models",
    "default_threads",
    "load_settings",
]
