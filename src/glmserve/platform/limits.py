"""Admission limits: in-flight slots per key and model, requests per minute and per day,
and request_ids in flight; one atomic decision per request.

``LocalLimiter`` holds them in this process (one gateway). ``RedisLimiter``
(redis_limits.py) holds them in Redis, exact across several gateways.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from glmserve.config import TierLimits
from glmserve.errors import (
    ConcurrencyExceeded,
    DailyLimitExceeded,
    DuplicateRequest,
    FrequencyExceeded,
    GlmServeError,
    RateLimited,
)

__all__ = ["Reservation", "Limiter", "LocalLimiter", "limit_error", "minute_and_day"]


@dataclass(frozen=True)
class Reservation:
    lease: str
    key_id: str
    model: str
    request_id: str | None


class Limiter(Protocol):
    async def reserve(
        self,
        key_id: str,
        model: str,
        request_id: str | None,
        limits: TierLimits,
        *,
        count: bool = True,
    ) -> Reservation:
        """Take a slot or raise 1231, 1302, 1303 or 1304; nothing is counted on refusal.
        ``count`` false: a request counted already (an async task counted when it was
        submitted) takes its slot without the per-minute and per-day checks."""
        ...

    async def release(self, reservation: Reservation) -> None: ...
    async def renew(self, reservations: list[Reservation]) -> None:
        """Keep these slots alive (Redis leases expire if a gateway dies)."""
        ...

    async def in_flight(self, key_id: str, model: str) -> int: ...
    async def close(self) -> None: ...


def limit_error(code: int, limit: int, model: str, request_id: str | None) -> GlmServeError:
    if code == 1305:
        return RateLimited(limit)
    if code == 1231:
        return DuplicateRequest(request_id or "")
    if code == 1302:
        return ConcurrencyExceeded(limit, model)
    if code == 1303:
        return FrequencyExceeded(limit)
    return DailyLimitExceeded(limit)


def minute_and_day(now: float) -> tuple[str, str]:
    """Names of the current per-minute and per-day windows (UTC)."""
    stamp = time.gmtime(now)
    return time.strftime("%Y%m%d%H%M", stamp), time.strftime("%Y-%m-%d", stamp)


class LocalLimiter:
    """Limits of one process. Counters of past minutes and days are dropped as they go."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._slots: dict[tuple[str, str], set[str]] = defaultdict(set)
        self._request_ids: set[tuple[str, str]] = set()
        self._minute: tuple[str, dict[str, int]] = ("", {})
        self._day: tuple[str, dict[str, int]] = ("", {})

    async def reserve(
        self,
        key_id: str,
        model: str,
        request_id: str | None,
        limits: TierLimits,
        *,
        count: bool = True,
    ) -> Reservation:
        async with self._lock:
            minute, day = minute_and_day(time.time())
            if self._minute[0] != minute:
                self._minute = (minute, {})
            if self._day[0] != day:
                self._day = (day, {})
            per_minute, per_day = self._minute[1], self._day[1]
            slots = self._slots[(key_id, model)]
            refused = 0
            if request_id is not None and (key_id, request_id) in self._request_ids:
                refused, limit = 1231, 0
            elif limits.concurrency and len(slots) >= limits.concurrency:
                refused, limit = 1302, limits.concurrency
            elif count and limits.rpm and per_minute.get(key_id, 0) >= limits.rpm:
                refused, limit = 1303, limits.rpm
            elif count and limits.daily and per_day.get(key_id, 0) >= limits.daily:
                refused, limit = 1304, limits.daily
            elif count and limits.global_rpm and per_minute.get("", 0) >= limits.global_rpm:
                refused, limit = 1305, limits.global_rpm
            if refused:
                raise limit_error(refused, limit, model, request_id)
            lease = secrets.token_hex(8)
            slots.add(lease)
            if request_id is not None:
                self._request_ids.add((key_id, request_id))
            if count:
                per_minute[key_id] = per_minute.get(key_id, 0) + 1
                per_minute[""] = per_minute.get("", 0) + 1  # every key: the global rate
                per_day[key_id] = per_day.get(key_id, 0) + 1
            return Reservation(lease, key_id, model, request_id)

    async def release(self, reservation: Reservation) -> None:
        async with self._lock:
            self._slots[(reservation.key_id, reservation.model)].discard(reservation.lease)
            if reservation.request_id is not None:
                self._request_ids.discard((reservation.key_id, reservation.request_id))

    async def renew(self, reservations: list[Reservation]) -> None:
        return None  # nothing expires within one process

    async def in_flight(self, key_id: str, model: str) -> int:
        return len(self._slots.get((key_id, model), ()))

    async def close(self) -> None:
        return None
