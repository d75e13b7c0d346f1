"""GLM Coding Plan quotas (platform/plans.py) on both counters: this process's and a
real Redis shared by two "gateways" (two Plans objects, two connections), with the clock
injected: the windows roll without any sleeping."""

from __future__ import annotations

import asyncio
import calendar
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

from glmserve.config.plans import Multiplier, Plan, PlanSettings
from glmserve.errors import (
    FairUseRestricted,
    ModelNotInPlan,
    PlanExpired,
    PromptQuotaExceeded,
    WeeklyQuotaExceeded,
)
from glmserve.platform.auth import Principal
from glmserve.platform.plan_counter import LocalPlanCounter, PlanCounter
from glmserve.platform.plans import Plans
from glmserve.platform.redis_plans import RedisPlanCounter
from glmserve.store import KeyRow
from tests.platform.services import Redis

T = TypeVar("T")
HOUR = 3600.0
# 2026-12-07 (a Monday) 09:00 UTC = 17:00 at UTC+8: inside the 14:00-18:00 peak
PEAK = float(calendar.timegm((2026, 12, 7, 9, 0, 0)))
OFF_PEAK = PEAK + 2 * HOUR  # 19:00 at UTC+8
TOP = Multiplier(("glm-5.1",), 3, 2, 14 * 60, 18 * 60, 8 * 60)
SETTINGS = PlanSettings(
    (
        Plan("tiny", 5, 7, models=("glm-4.7", "glm-5.1"), multipliers=(TOP,)),
        Plan("open", 2, 0),
    )
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Gateways:
    """Two gateways counting the same keys, on one clock; ``run`` drives a test body
    ``(clock, one, two)`` in one event loop (Redis connections belong to their loop)."""

    def __init__(self, redis_url: str | None) -> None:
        self.redis_url = redis_url
        self.clock = Clock(OFF_PEAK)

    def run(self, body: Callable[[Clock, Plans, Plans], Awaitable[T]]) -> T:
        async def main() -> T:
            counters: list[PlanCounter]
            if self.redis_url is None:
                shared = LocalPlanCounter()
                counters = [shared, shared]
            else:
                counters = [RedisPlanCounter(self.redis_url), RedisPlanCounter(self.redis_url)]
            try:
                one, two = (Plans(SETTINGS, c, self.clock) for c in counters)
                return await body(self.clock, one, two)
            finally:
                for counter in counters:
                    await counter.close()

        return asyncio.run(main())


@pytest.fixture(params=["local", "redis"])
def gateways(request: pytest.FixtureRequest) -> Gateways:
    if request.param == "local":
        return Gateways(None)
    redis: Redis = request.getfixturevalue("redis_server")
    redis.flush()
    return Gateways(redis.url)


def _key(plan: str = "tiny", **kw: object) -> Principal:
    return Principal("key1", limited=True, plan=plan, **kw)  # type: ignore[arg-type]


def test_a_burst_across_two_gateways_stops_at_the_quota(gateways: Gateways) -> None:
    async def burst(
        clock: Clock, one: Plans, two: Plans
    ) -> tuple[list[float], PromptQuotaExceeded]:
        made: list[float] = []
        for i in range(5):
            clock.now = OFF_PEAK + i * 60
            await (one if i % 2 else two).charge(_key(), "glm-4.7", "anthropic", True)
            made.append(clock.now)
        clock.now += 60
        with pytest.raises(PromptQuotaExceeded) as caught:
            await one.charge(_key(), "glm-4.7", "coding", True)
        return made, caught.value

    made, refused = gateways.run(burst)
    assert refused.code == "1308"
    assert refused.next_flush == made[0] + 5 * HOUR  # when the first prompt ages out
    assert "Usage limit reached for tiny" in refused.message
    assert "2026-12-07 16:00:00 UTC" in refused.message


def test_follow_ups_of_a_tool_loop_are_not_counted(gateways: Gateways) -> None:
    async def run(clock: Clock, one: Plans, two: Plans) -> None:
        await one.charge(_key(), "glm-4.7", "anthropic", True)
        for _ in range(20):  # the loop's tool-result requests
            await two.charge(_key(), "glm-4.7", "anthropic", False)
        for _ in range(4):
            await one.charge(_key(), "glm-4.7", "anthropic", True)
        with pytest.raises(PromptQuotaExceeded):
            await two.charge(_key(), "glm-4.7", "anthropic", True)
        await two.charge(_key(), "glm-4.7", "anthropic", False)  # a loop may finish

    gateways.run(run)


def test_the_window_rolls_and_the_week_fills(gateways: Gateways) -> None:
    async def run(clock: Clock, one: Plans, two: Plans) -> WeeklyQuotaExceeded:
        for _ in range(5):
            await one.charge(_key(), "glm-4.7", "coding", True)
        clock.now += 5 * HOUR - 1
        with pytest.raises(PromptQuotaExceeded):
            await two.charge(_key(), "glm-4.7", "coding", True)
        clock.now += 1  # exactly five hours after them: the window has room again
        await two.charge(_key(), "glm-4.7", "coding", True)
        await one.charge(_key(), "glm-4.7", "coding", True)  # 7 this week
        clock.now += 6 * HOUR
        with pytest.raises(WeeklyQuotaExceeded) as caught:
            await one.charge(_key(), "glm-4.7", "coding", True)
        return caught.value

    refused = gateways.run(run)
    assert refused.code == "1310"
    assert refused.next_flush == OFF_PEAK + 7 * 24 * HOUR


def test_top_models_count_three_times_at_peak_and_twice_off_peak(gateways: Gateways) -> None:
    row = KeyRow("key1", "k", "V0", "", None, 0, plan="tiny")

    async def run(clock: Clock, one: Plans, _: Plans) -> tuple[int, int]:
        clock.now = PEAK
        await one.charge(_key(), "glm-5.1", "coding", True)  # 3
        peak = await one.usage(row)
        clock.now = OFF_PEAK
        await one.charge(_key(), "glm-5.1", "coding", True)  # 2: 5 in the window
        with pytest.raises(PromptQuotaExceeded):
            await one.charge(_key(), "glm-4.7", "coding", True)
        after = await one.usage(row)
        assert peak is not None and after is not None
        assert after.five_hour.limit == 5 and after.week.used == 5
        assert after.five_hour.next_flush_ms == int((PEAK + 5 * HOUR) * 1000)
        return peak.five_hour.used, after.five_hour.used

    assert gateways.run(run) == (3, 5)


def test_expiry_model_access_fair_use_and_surfaces(gateways: Gateways) -> None:
    async def run(clock: Clock, one: Plans, _: Plans) -> None:
        with pytest.raises(PlanExpired) as expired:
            await one.charge(_key(plan_expires_at=int(clock.now)), "glm-4.7", "coding", True)
        assert expired.value.code == "1309"
        await one.charge(_key(plan_expires_at=int(clock.now) + 1), "glm-4.7", "coding", True)
        with pytest.raises(PlanExpired):  # a plan no longer configured has ended too
            await one.charge(_key(plan="gone"), "glm-4.7", "coding", True)
        with pytest.raises(ModelNotInPlan) as model:
            await one.charge(_key(), "glm-4.5-air", "coding", True)
        assert model.value.code == "1311" and "glm-4.5-air" in model.value.message
        await one.charge(_key(plan="open"), "glm-4.5-air", "coding", True)  # every model
        with pytest.raises(FairUseRestricted) as restricted:
            await one.charge(_key(status="restricted"), "glm-4.7", "coding", True)
        assert restricted.value.code == "1313"
        for _ in range(10):  # the general endpoint is not a plan surface: never counted
            await one.charge(_key(), "glm-4.5-air", "paas", True)
        await one.charge(Principal("nokey", limited=True), "glm-4.7", "coding", True)

    gateways.run(run)
