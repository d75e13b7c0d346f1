"""Plan prompt counters: the prompts of a key in its rolling windows, one atomic
decision per prompt (docs/plans.md).

A prompt is an entry (when, how many prompts it counts); it counts in a window while it
is younger than the window. A prompt that does not fit is refused with the time the
window will have room for it: when enough of the oldest entries have aged out
(``next_flush_time``). ``LocalPlanCounter`` keeps the entries in this process;
``RedisPlanCounter`` (redis_plans.py) in Redis, exact across gateways.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

__all__ = [
    "FIVE_HOURS_MS",
    "WEEK_MS",
    "PlanCounter",
    "LocalPlanCounter",
    "Quota",
    "WindowUse",
    "refusal",
    "window_use",
]

FIVE_HOURS_MS = 5 * 3600 * 1000
WEEK_MS = 7 * 24 * 3600 * 1000


@dataclass(frozen=True)
class Quota:
    per_5h: int
    """0: none."""
    per_week: int


@dataclass(frozen=True)
class WindowUse:
    used: int
    limit: int
    next_flush_ms: int | None
    """When the oldest prompt counted in the window leaves it; None: the window is empty."""


class PlanCounter(Protocol):
    async def charge(self, key_id: str, units: int, now_ms: int, quota: Quota) -> tuple[int, int]:
        """Count a prompt of ``units``, or refuse it: (0, 0), (1308, flush_ms) for the
        5-hour window, (1310, flush_ms) for the week. Nothing is counted on refusal."""
        ...

    async def entries(self, key_id: str, now_ms: int) -> list[tuple[int, int]]:
        """(when, units) of the key's prompts of the last week, oldest first."""
        ...

    async def close(self) -> None: ...


def refusal(
    entries: Sequence[tuple[int, int]], units: int, limit: int, window_ms: int, now_ms: int
) -> int | None:
    """None if ``units`` more fit the window's ``limit``; otherwise when they will: the
    time enough of the oldest entries have left the window."""
    if limit <= 0:
        return None
    inside = [(t, u) for t, u in entries if t > now_ms - window_ms]
    used = sum(u for _, u in inside)
    if used + units <= limit:
        return None
    removed = 0
    for when, counted in inside:
        removed += counted
        if used - removed + units <= limit:
            return when + window_ms
    return now_ms + window_ms  # more than the whole window holds


def window_use(
    entries: Sequence[tuple[int, int]], limit: int, window_ms: int, now_ms: int
) -> WindowUse:
    inside = [(t, u) for t, u in entries if t > now_ms - window_ms]
    flush = inside[0][0] + window_ms if inside else None
    return WindowUse(sum(u for _, u in inside), limit, flush)


class LocalPlanCounter:
    """The windows of one process."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._entries: dict[str, list[tuple[int, int]]] = {}

    async def charge(self, key_id: str, units: int, now_ms: int, quota: Quota) -> tuple[int, int]:
        async with self._lock:
            entries = [e for e in self._entries.get(key_id, []) if e[0] > now_ms - WEEK_MS]
            self._entries[key_id] = entries
            for code, limit, window in (
                (1308, quota.per_5h, FIVE_HOURS_MS),
                (1310, quota.per_week, WEEK_MS),
            ):
                flush = refusal(entries, units, limit, window, now_ms)
                if flush is not None:
                    return code, flush
            entries.append((now_ms, units))
            return 0, 0

    async def entries(self, key_id: str, now_ms: int) -> list[tuple[int, int]]:
        async with self._lock:
            return [e for e in self._entries.get(key_id, []) if e[0] > now_ms - WEEK_MS]

    async def close(self) -> None:
        return None
