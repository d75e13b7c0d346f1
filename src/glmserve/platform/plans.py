"""GLM Coding Plans: a key's prompt quotas on the surfaces coding tools call.

``Plans.charge`` runs at admission for a key on a plan, on the counted surfaces
(``[plan_counting]``): the plan must not have expired (1309) or be restricted (1313),
must include the model (1311), and a new prompt must fit the rolling 5-hour window
(1308) and the rolling week (1310), counted with the plan's multiplier for the model at
that hour. The serving layer says whether a request is a new prompt (one user turn) or
a follow-up of a tool loop, which is never counted (docs/plans.md). The clock is
injected so the windows can be tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from glmserve.config.plans import Plan, PlanSettings
from glmserve.errors import (
    FairUseRestricted,
    ModelNotInPlan,
    PlanExpired,
    PromptQuotaExceeded,
    WeeklyQuotaExceeded,
)
from glmserve.platform.auth import Principal
from glmserve.platform.plan_counter import (
    FIVE_HOURS_MS,
    WEEK_MS,
    PlanCounter,
    Quota,
    WindowUse,
    window_use,
)
from glmserve.store import KeyRow

__all__ = ["PlanUsage", "Plans"]


@dataclass(frozen=True)
class PlanUsage:
    plan: str
    expires_at: int | None
    five_hour: WindowUse
    week: WindowUse

    def body(self) -> dict[str, Any]:
        return {
            "plan": self.plan,
            "expires_at": self.expires_at,
            "windows": {
                "five_hour": _window_body(self.five_hour),
                "week": _window_body(self.week),
            },
        }


def _window_body(use: WindowUse) -> dict[str, Any]:
    flush = None if use.next_flush_ms is None else use.next_flush_ms // 1000
    return {"used": use.used, "limit": use.limit, "next_flush_time": flush}


class Plans:
    def __init__(
        self,
        settings: PlanSettings,
        counter: PlanCounter,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.counter = counter
        self._clock = clock

    def counts_on(self, surface: str) -> bool:
        return surface in self.settings.surfaces

    async def charge(self, caller: Principal, model: str, surface: str, new_prompt: bool) -> None:
        """Check the caller's plan for a request; count it if it is a new prompt."""
        if caller.plan is None or not self.counts_on(surface):
            return
        now = self._clock()
        plan = self._plan(caller.plan, caller.plan_expires_at, now)
        if caller.status == "restricted":
            raise FairUseRestricted()
        if not plan.includes(model):
            raise ModelNotInPlan(model)
        if not new_prompt:
            return
        quota = Quota(plan.prompts_per_5h, plan.prompts_per_week)
        units = plan.units(model, now)
        code, flush_ms = await self.counter.charge(caller.key_id, units, int(now * 1000), quota)
        if code == 1308:
            raise PromptQuotaExceeded(plan.name, flush_ms / 1000)
        if code == 1310:
            raise WeeklyQuotaExceeded(flush_ms / 1000)

    async def usage(self, row: KeyRow) -> PlanUsage | None:
        """The key's windows (None for a key on no plan)."""
        if row.plan is None:
            return None
        now_ms = int(self._clock() * 1000)
        plan = self.settings.get(row.plan)
        entries = await self.counter.entries(row.id, now_ms)
        per_5h = plan.prompts_per_5h if plan else 0
        per_week = plan.prompts_per_week if plan else 0
        return PlanUsage(
            row.plan,
            row.plan_expires_at,
            window_use(entries, per_5h, FIVE_HOURS_MS, now_ms),
            window_use(entries, per_week, WEEK_MS, now_ms),
        )

    def _plan(self, name: str, expires_at: int | None, now: float) -> Plan:
        plan = self.settings.get(name)
        if plan is None or (expires_at is not None and now >= expires_at):
            raise PlanExpired()  # a plan taken out of the config has ended too
        return plan
