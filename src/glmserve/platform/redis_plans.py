"""Plan prompt counters in Redis: exact across several gateway processes.

One sorted set per key holds its prompts of the last week, scored by when they were
made, each member ``<random>:<units>``; one Lua script sums the windows, decides and
adds the prompt atomically, with the same rule as ``plan_counter.refusal``.
"""

from __future__ import annotations

import secrets

import redis
import redis.asyncio as aioredis

from glmserve.errors import LimitsUnavailable
from glmserve.platform.plan_counter import FIVE_HOURS_MS, WEEK_MS, Quota

__all__ = ["RedisPlanCounter"]

_CHARGE = """
local now = tonumber(ARGV[1])
local units = tonumber(ARGV[2])
local week = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - week)
local function units_of(member) return tonumber(string.match(member, ':(%d+)$')) end
local function refusal(window, limit)
  if limit <= 0 then return nil end
  local items = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. (now - window), '+inf', 'WITHSCORES')
  local used = 0
  for i = 1, #items, 2 do used = used + units_of(items[i]) end
  if used + units <= limit then return nil end
  local removed = 0
  for i = 1, #items, 2 do
    removed = removed + units_of(items[i])
    if used - removed + units <= limit then return tonumber(items[i + 1]) + window end
  end
  return now + window
end
local flush = refusal(tonumber(ARGV[6]), tonumber(ARGV[3]))
if flush then return {1308, flush} end
flush = refusal(week, tonumber(ARGV[4]))
if flush then return {1310, flush} end
redis.call('ZADD', KEYS[1], now, ARGV[7])
redis.call('PEXPIRE', KEYS[1], week)
return {0, 0}
"""


class RedisPlanCounter:
    def __init__(self, url: str, prefix: str = "glmserve") -> None:
        self._redis = aioredis.Redis.from_url(url)
        self._prefix = prefix
        self._charge = self._redis.register_script(_CHARGE)

    def _key(self, key_id: str) -> str:
        return f"{self._prefix}:plan:{key_id}"

    async def charge(self, key_id: str, units: int, now_ms: int, quota: Quota) -> tuple[int, int]:
        member = f"{secrets.token_hex(8)}:{units}"
        args: list[str | int] = [
            now_ms,
            units,
            quota.per_5h,
            quota.per_week,
            WEEK_MS,
            FIVE_HOURS_MS,
            member,
        ]
        try:
            code, flush = await self._charge(keys=[self._key(key_id)], args=args)
        except redis.RedisError:
            raise LimitsUnavailable() from None
        return int(code), int(flush)

    async def entries(self, key_id: str, now_ms: int) -> list[tuple[int, int]]:
        try:
            items = await self._redis.zrangebyscore(
                self._key(key_id), f"({now_ms - WEEK_MS}", "+inf", withscores=True
            )
        except redis.RedisError:
            raise LimitsUnavailable() from None
        return [(int(pair[1]), _units(pair[0])) for pair in items]

    async def close(self) -> None:
        await self._redis.aclose()


def _units(member: object) -> int:
    text = member.decode() if isinstance(member, bytes) else str(member)
    return int(text.rsplit(":", 1)[1])
