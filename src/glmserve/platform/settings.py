"""Settings of the platform around the model: storage, Redis, access, limits, tasks.

The TOML sections ``[platform]`` and ``[limits]`` are read here (``glmserve.config``
calls ``platform_settings``); bad values raise ``ValueError`` with a message that
``config`` turns into a ``ConfigError``.

    [platform]
    database_url = "postgresql://glm@db/glmserve"   # env GLMSERVE_DATABASE_URL
    redis_url = "redis://localhost:6379/0"          # env GLMSERVE_REDIS_URL
    admin_key = "..."                               # env GLMSERVE_ADMIN_KEY
    open = false                                    # env GLMSERVE_OPEN=1: no keys needed

    [limits.V0]                                     # per tier: V0..V3
    concurrency = 5
    rpm = 60                                        # requests per minute, 0 = none
    daily = 10000                                   # requests per UTC day, 0 = none

    [limits.models."glm-4.7"]                       # per-model concurrency by tier
    V0 = 2
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "TIERS",
    "Tier",
    "TierLimits",
    "LimitSettings",
    "PlatformSettings",
    "PlatformFile",
    "LimitsFile",
    "platform_settings",
]

Tier = Literal["V0", "V1", "V2", "V3"]
TIERS: tuple[Tier, ...] = ("V0", "V1", "V2", "V3")

# Seed 002's concurrency tiers: in-flight requests per key and model.
_DEFAULT_CONCURRENCY: dict[str, int] = {"V0": 5, "V1": 10, "V2": 15, "V3": 20}


@dataclass(frozen=True)
class TierLimits:
    concurrency: int
    """In-flight requests per key and model; 0 means no limit."""
    rpm: int = 0
    daily: int = 0


@dataclass(frozen=True)
class LimitSettings:
    tiers: Mapping[str, TierLimits] = field(
        default_factory=lambda: {t: TierLimits(c) for t, c in _DEFAULT_CONCURRENCY.items()}
    )
    models: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    lease_seconds: float = 30.0
    """How long a gateway's hold on a Redis slot lives without renewal: a gateway that
    dies frees its slots after this long."""

    def for_key(self, tier: str, model: str) -> TierLimits:
        base = self.tiers.get(tier, TierLimits(0))
        override = self.models.get(model, {}).get(tier)
        if override is None:
            return base
        return TierLimits(override, base.rpm, base.daily)


@dataclass(frozen=True)
class PlatformSettings:
    database_url: str | None = None
    """None: SQLite in the data directory."""
    redis_url: str | None = None
    admin_key: str | None = None
    secret_key: str | None = None
    """Master key from which API key secrets are derived; None: a file in data_dir."""
    open_access: bool = False
    data_dir: Path | None = None
    limits: LimitSettings = field(default_factory=LimitSettings)
    task_workers: int = 2
    task_retention_seconds: int = 72 * 3600
    default_key_tier: Tier = "V3"


# --- the file's schema -------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class PlatformFile(_Strict):
    database_url: str | None = None
    redis_url: str | None = None
    admin_key: str | None = Field(default=None, min_length=16)
    secret_key: str | None = Field(default=None, min_length=32)
    open: bool = False
    data_dir: str | None = None
    task_workers: int = Field(default=2, ge=0, le=64)
    task_retention_hours: float = Field(default=72, gt=0)
    default_key_tier: Tier = "V3"


class _TierFile(_Strict):
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
    V0: _TierFile = Field(default_factory=_TierFile)
    V1: _TierFile = Field(default_factory=_TierFile)
    V2: _TierFile = Field(default_factory=_TierFile)
    V3: _TierFile = Field(default_factory=_TierFile)
    models: dict[str, _ModelLimitsFile] = Field(default_factory=dict)


def platform_settings(
    platform: PlatformFile, limits: LimitsFile, env: Mapping[str, str]
) -> PlatformSettings:
    """Merge the file's sections with the environment (which wins)."""
    tiers: dict[str, TierLimits] = {}
    for tier in TIERS:
        entry: _TierFile = getattr(limits, tier)
        concurrency = _DEFAULT_CONCURRENCY[tier] if entry.concurrency is None else entry.concurrency
        tiers[tier] = TierLimits(concurrency, entry.rpm, entry.daily)
    models = {
        code: {t: v for t, v in entry.model_dump(exclude_none=True).items()}
        for code, entry in limits.models.items()
    }
    admin_key = env.get("GLMSERVE_ADMIN_KEY") or platform.admin_key
    if admin_key is not None and len(admin_key) < 16:
        raise ValueError("the admin key (GLMSERVE_ADMIN_KEY) must be at least 16 characters")
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
        limits=LimitSettings(tiers=tiers, models=models, lease_seconds=limits.lease_seconds),
        task_workers=platform.task_workers,
        task_retention_seconds=int(platform.task_retention_hours * 3600),
        default_key_tier=platform.default_key_tier,
    )
