"""Admission limits, in one process and in Redis shared by several gateways."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from glmserve.config import LimitSettings, TierLimits
from glmserve.errors import GlmServeError
from glmserve.platform.limits import Limiter, LocalLimiter
from glmserve.platform.redis_limits import RedisLimiter
from tests.platform.services import Redis

V0 = TierLimits(concurrency=5)


@pytest.fixture(params=["local", "redis"])
async def make_limiter(
    request: pytest.FixtureRequest,
) -> AsyncIterator[Callable[[], Limiter]]:
    """Makes limiters that share their state, as gateways of one deployment do."""
    made: list[Limiter] = []
    if request.param == "local":
        shared = LocalLimiter()
        yield lambda: shared
    else:
        redis: Redis = request.getfixturevalue("redis_server")
        redis.flush()

        def new() -> Limiter:
            limiter = RedisLimiter(redis.url, lease_seconds=30)
            made.append(limiter)
            return limiter

        yield new
    for limiter in made:
        await limiter.close()


async def _outcome(limiter: Limiter, rid: str | None = None, limits: TierLimits = V0) -> str:
    try:
        await limiter.reserve("key", "glm-4.7", rid, limits)
    except GlmServeError as exc:
        return exc.code
    return "ok"


async def test_a_burst_of_200_gets_exactly_the_tier_limit(
    make_limiter: Callable[[], Limiter],
) -> None:
    # Two gateways (with Redis: two clients) take from the same slots at once.
    gateways = [make_limiter(), make_limiter()]
    outcomes = await asyncio.gather(*(_outcome(gateways[i % 2]) for i in range(200)))
    assert outcomes.count("ok") == 5
    assert outcomes.count("1302") == 195
    assert await gateways[0].in_flight("key", "glm-4.7") == 5


async def test_release_frees_the_slot(make_limiter: Callable[[], Limiter]) -> None:
    limiter = make_limiter()
    held = [await limiter.reserve("key", "glm-4.7", None, V0) for _ in range(5)]
    assert await _outcome(limiter) == "1302"
    await limiter.release(held[0])
    assert await _outcome(limiter) == "ok"
    # Slots are per key and model.
    assert await _outcome(limiter, limits=V0) == "1302"
    other = await limiter.reserve("other-key", "glm-4.7", None, V0)
    assert other.key_id == "other-key"


async def test_a_request_id_in_flight_is_refused(make_limiter: Callable[[], Limiter]) -> None:
    limiter = make_limiter()
    first = await limiter.reserve("key", "glm-4.7", "rid-1", V0)
    assert await _outcome(limiter, "rid-1") == "1231"
    assert await _outcome(limiter, "rid-2") == "ok"
    await limiter.release(first)
    assert await _outcome(limiter, "rid-1") == "ok"  # finished: the id may be used again


async def test_requests_per_minute_and_per_day(make_limiter: Callable[[], Limiter]) -> None:
    limiter = make_limiter()
    rpm = TierLimits(concurrency=0, rpm=3)
    outcomes = [await _outcome(limiter, limits=rpm) for _ in range(5)]
    assert outcomes == ["ok", "ok", "ok", "1303", "1303"]
    daily = TierLimits(concurrency=0, daily=4)  # the 3 above count towards today
    assert [await _outcome(limiter, limits=daily) for _ in range(2)] == ["ok", "1304"]


async def test_the_server_wide_rate_counts_every_key_on_every_gateway(
    make_limiter: Callable[[], Limiter],
) -> None:
    one, two = make_limiter(), make_limiter()
    limits = TierLimits(concurrency=0, rpm=100, global_rpm=3)
    outcomes = []
    for i in range(5):
        try:
            limiter = one if i % 2 else two
            await limiter.reserve(f"key-{i}", "glm-4.7", None, limits)
            outcomes.append("ok")
        except GlmServeError as exc:
            outcomes.append(exc.code)
    assert outcomes == ["ok", "ok", "ok", "1305", "1305"]


async def test_slots_of_a_dead_gateway_expire(redis_server: Redis) -> None:
    redis_server.flush()
    dead = RedisLimiter(redis_server.url, lease_seconds=1)
    for _ in range(5):
        await dead.reserve("key", "glm-4.7", None, V0)
    await dead.close()  # it never renews nor releases: as if the process had died
    alive = RedisLimiter(redis_server.url, lease_seconds=30)
    try:
        assert await _outcome(alive) == "1302"
        for _ in range(100):  # bounded wait for the leases to run out
            if await alive.in_flight("key", "glm-4.7") == 0:
                break
            await asyncio.sleep(0.1)
        assert await _outcome(alive) == "ok"
    finally:
        await alive.close()


async def test_renewal_keeps_a_running_request_s_slot(redis_server: Redis) -> None:
    redis_server.flush()
    limiter = RedisLimiter(redis_server.url, lease_seconds=1)
    try:
        held = [await limiter.reserve("key", "glm-4.7", "rid", V0)]
        for _ in range(15):  # longer than the lease, renewed as the gateway does
            await limiter.renew(held)
            await asyncio.sleep(0.1)
        assert await limiter.in_flight("key", "glm-4.7") == 1
        assert await _outcome(limiter, "rid") == "1231"
    finally:
        await limiter.close()


def test_tier_limits_with_model_overrides() -> None:
    limits = LimitSettings(models={"glm-4.7": {"V0": 2}}, global_rpm=7)
    assert limits.for_key("V1", "glm-4.7").global_rpm == 7
    assert limits.for_key("V0", "glm-4.7").concurrency == 2
    assert limits.for_key("V0", "gemma-3-270m").concurrency == 5
    assert [limits.for_key(t, "x").concurrency for t in ("V0", "V1", "V2", "V3")] == [
        5,
        10,
        15,
        20,
    ]


async def test_a_request_counted_already_takes_only_a_slot(
    make_limiter: Callable[[], Limiter],
) -> None:
    # An async task is counted when submitted; when it runs it takes a slot, uncounted.
    limiter = make_limiter()
    limits = TierLimits(concurrency=1, rpm=1)
    first = await limiter.reserve("key", "glm-4.7", None, limits)  # the minute's one request
    assert await _outcome(limiter, limits=limits) == "1302"  # the slot is taken
    await limiter.release(first)
    held = await limiter.reserve("key", "glm-4.7", None, limits, count=False)
    assert await _outcome(limiter, limits=TierLimits(concurrency=0, rpm=1)) == "1303"
    await limiter.release(held)
    assert await _outcome(limiter, limits=limits) == "1303"
