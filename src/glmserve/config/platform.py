"""Settings of the platform around the model: storage, Redis, access, limits, tasks.

The TOML sections ``[platform]`` and ``[limits]`` (schema in ``file.py``, merged with
the environment in ``load.py``):

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

from glmserve.config.batches import BatchSettings, FileSettings
from glmserve.config.plans import DEFAULT_PLANS, PlanSettings

__all__ = [
    "TIERS",
    "Tier",
    "TierLimits",
    "LimitSettings",
    "PlatformSettings",
    "DEFAULT_CONCURRENCY",
]

Tier = Literal["V0", "V1", "V2", "V3"]
TIERS: tuple[Tier, ...] = ("V0", "V1", "V2", "V3")

# The concurrency tiers of Z.AI's rate-limit page (docs/platform.md): in-flight requests
# per key and model.
DEFAULT_CONCURRENCY: dict[str, int] = {"V0": 5, "V1": 10, "V2": 15, "V3": 20}


@dataclass(frozen=True)
class TierLimits:
    concurrency: int
    """In-flight requests per key and model; 0 means no limit."""
    rpm: int = 0
    daily: int = 0
    global_rpm: int = 0
    """Requests per minute of all keys together (``[limits] global_rpm``); 0: none."""


@dataclass(frozen=True)
class LimitSettings:
    tiers: Mapping[str, TierLimits] = field(
        default_factory=lambda: {t: TierLimits(c) for t, c in DEFAULT_CONCURRENCY.items()}
    )
    models: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    global_rpm: int = 0
    """Requests per minute of all keys together, on every gateway: over it, 1305."""
    blocked_user_ids: frozenset[str] = frozenset()
    """End users (the requests' ``user_id``) the operator blocked: 1300."""
    lease_seconds: float = 30.0
    """How long a gateway's hold on a Redis slot lives without renewal: a gateway that
    dies frees its slots after this long."""

    def for_key(self, tier: str, model: str) -> TierLimits:
        base = self.tiers.get(tier, TierLimits(0))
        override = self.models.get(model, {}).get(tier)
        concurrency = base.concurrency if override is None else override
        return TierLimits(concurrency, base.rpm, base.daily, self.global_rpm)


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
    max_queued_tasks_per_key: int = 100
    """Async tasks of one key waiting or running at once; past it a submission is 429
    (1302), so one key's backlog cannot fill the shared queue."""
    default_key_tier: Tier = "V3"
    jwt_max_lifetime_seconds: int = 210
    """The longest a JWT may live (its ``exp`` after its ``timestamp``): zai-sdk makes
    them for 3.5 minutes (``exp`` 210 s after ``timestamp``)."""
    admin_metrics: bool = False
    """``/metrics`` answers only with the admin key."""
    files: FileSettings = field(default_factory=FileSettings)
    batches: BatchSettings = field(default_factory=BatchSettings)
    plans: PlanSettings = DEFAULT_PLANS
    """GLM Coding Plan quotas ([[plans]], [plan_counting]; docs/plans.md)."""
