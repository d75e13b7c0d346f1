"""Admission limits in Redis: exact across several gateway processes.

One Lua script decides and counts atomically. A slot is a member of a sorted set per
key and model, scored by when its lease runs out; the gateway holding it renews the
lease while the request runs and removes it at the end. A gateway that crashes stops
renewing, and its slots drop out after ``lease_seconds``.
"""

from __future__ import annotations

import secrets
import time

import redis
import redis.asyncio as aioredis

from glmserve.config import TierLimits
from glmserve.errors import LimitsUnavailable
from glmserve.platform.limits import Reservation, limit_error, minute_and_day

__all__ = ["RedisLimiter"]

_RESERVE = """
local now = tonumber(ARGV[1])
local lease_ms = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ARGV[7] == '1' and redis.call('EXISTS', KEYS[2]) == 1 then return {1231, 0} end
local concurrency = tonumber(ARGV[4])
if concurrency > 0 and redis.call('ZCARD', KEYS[1]) >= concurrency then
  return {1302, concurrency}
end
local counted = ARGV[9] == '1'
local rpm = tonumber(ARGV[5])
if counted and rpm > 0 and tonumber(redis.call('GET', KEYS[3]) or '0') >= rpm then
  return {1303, rpm}
end
local daily = tonumber(ARGV[6])
if counted and daily > 0 and tonumber(redis.call('GET', KEYS[4]) or '0') >= daily then
  return {1304, daily}
end
local global_rpm = tonumber(ARGV[8])
if counted and global_rpm > 0 and tonumber(redis.call('GET', KEYS[5]) or '0') >= global_rpm then
  return {1305, global_rpm}
end
redis.call('ZADD', KEYS[1], now + lease_ms, ARGV[2])
redis.call('PEXPIRE', KEYS[1], lease_ms * 2)
if ARGV[7] == '1' then redis.call('SET', KEYS[2], ARGV[2], 'PX', lease_ms) end
if counted then
  redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], 120)
  redis.call('INCR', KEYS[4])
  redis.call('EXPIRE', KEYS[4], 172800)
  redis.call('INCR', KEYS[5])
  redis.call('EXPIRE', KEYS[5], 120)
end
return {0, 0}
"""

_RELEASE = """
redis.call('ZREM', KEYS[1], ARGV[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 0
"""


class RedisLimiter:
    def __init__(self, url: str, lease_seconds: float, prefix: str = "glmserve") -> None:
        self._redis = aioredis.Redis.from_url(url)
        self._lease_ms = int(lease_seconds * 1000)
        self._prefix = prefix
        self._reserve = self._redis.register_script(_RESERVE)
        self._release = self._redis.register_script(_RELEASE)

    async def ping(self) -> None:
        await self._redis.ping()

    def _slots(self, key_id: str, model: str) -> str:
        return f"{self._prefix}:slots:{key_id}:{model}"

    def _rid(self, key_id: str, request_id: str | None) -> str:
        return f"{self._prefix}:rid:{key_id}:{request_id or ''}"

    async def reserve(
        self,
        key_id: str,
        model: str,
        request_id: str | None,
        limits: TierLimits,
        *,
        count: bool = True,
    ) -> Reservation:
        now = time.time()
        minute, day = minute_and_day(now)
        lease = secrets.token_hex(8)
        keys = [
            self._slots(key_id, model),
            self._rid(key_id, request_id),
            f"{self._prefix}:rpm:{key_id}:{minute}",
            f"{self._prefix}:day:{key_id}:{day}",
            f"{self._prefix}:rpm-all:{minute}",
        ]
        args: list[str | int] = [
            int(now * 1000),
            lease,
            self._lease_ms,
            limits.concurrency,
            limits.rpm,
            limits.daily,
            "1" if request_id is not None else "0",
            limits.global_rpm,
            "1" if count else "0",
        ]
        try:
            code, limit = await self._reserve(keys=keys, args=args)
        except redis.RedisError:
            raise LimitsUnavailable() from None
        if int(code):
            raise limit_error(int(code), int(limit), model, request_id)
        return Reservation(lease, key_id, model, request_id)

    async def release(self, reservation: Reservation) -> None:
        keys = [
            self._slots(reservation.key_id, reservation.model),
            self._rid(reservation.key_id, reservation.request_id),
        ]
        await self._release(keys=keys, args=[reservation.lease])

    async def renew(self, reservations: list[Reservation]) -> None:
        if not reservations:
            return
        until = int(time.time() * 1000) + self._lease_ms
        async with self._redis.pipeline(transaction=False) as pipe:
            for r in reservations:
                slots = self._slots(r.key_id, r.model)
                pipe.zadd(slots, {r.lease: until}, xx=True)
                pipe.pexpire(slots, self._lease_ms * 2)
                if r.request_id is not None:
                    pipe.pexpire(self._rid(r.key_id, r.request_id), self._lease_ms)
            await pipe.execute()

    async def in_flight(self, key_id: str, model: str) -> int:
        now = int(time.time() * 1000)
        return int(await self._redis.zcount(self._slots(key_id, model), now, "+inf"))

    async def close(self) -> None:
        await self._redis.aclose()
