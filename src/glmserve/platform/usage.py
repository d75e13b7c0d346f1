"""The usage ledger: one record per request, its cost from the catalog price table.

Prices are USD per million tokens (``catalog.Price``); cached prompt tokens are billed
at the cached-input price, the rest of the prompt at the input price.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal, Protocol, runtime_checkable

from glmserve.catalog import Price
from glmserve.store import NANO_PER_USD, Repository, UsageRecord, UsageSummary

__all__ = [
    "cost_nano",
    "usd_to_nano",
    "nano_to_usd",
    "Ledger",
    "Outcome",
    "TokenCounts",
    "ReasoningCounts",
    "storable",
]

Outcome = Literal["success", "error", "cancelled"]

_NANO_PER_MTOK_USD = Decimal(NANO_PER_USD) / Decimal(1_000_000)


class TokenCounts(Protocol):
    """What a request used, as its engine counted it."""

    @property
    def prompt_tokens(self) -> int: ...

    @property
    def cached_tokens(self) -> int: ...

    @property
    def completion_tokens(self) -> int: ...


@runtime_checkable
class ReasoningCounts(TokenCounts, Protocol):
    """Token counts that also say how many completion tokens were reasoning."""

    @property
    def reasoning_tokens(self) -> int: ...


def cost_nano(price: Price | None, usage: TokenCounts) -> int:
    if price is None:
        return 0
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    total = (
        Decimal(str(price.input)) * (usage.prompt_tokens - cached)
        + Decimal(str(price.cached_input)) * cached
        + Decimal(str(price.output)) * usage.completion_tokens
    ) * _NANO_PER_MTOK_USD
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def usd_to_nano(usd: str | float | Decimal) -> int:
    return int((Decimal(str(usd)) * NANO_PER_USD).quantize(Decimal(1)))


def nano_to_usd(nano: int) -> str:
    return f"{Decimal(nano) / NANO_PER_USD:.9f}"


def today(now: float | None = None) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(now if now is not None else time.time()))


# The ledger's text columns and their lengths (store/schema.py): PostgreSQL refuses a
# longer string or a NUL, where SQLite stores anything.
_COLUMNS = {"model": 128, "request_id": 128, "user_id": 128, "finish_reason": 32}
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(record: UsageRecord) -> UsageRecord:
    """The record as every store keeps it: the strings a client chose without NUL
    characters or lone surrogates and cut to their columns. The API refuses such
    strings before a request runs (1214); this is the last guard, so that no record
    is ever lost (and its request left unbilled) or grows without bound."""
    changes: dict[str, str] = {}
    for name, limit in _COLUMNS.items():
        value = getattr(record, name)
        if value is not None:
            clean = _UNSTORABLE.sub("\ufffd", value)[:limit]
            if clean != value:
                changes[name] = clean
    return replace(record, **changes) if changes else record  # type: ignore[arg-type]


class Ledger:
    """Writes records off the event loop; reads reports."""

    def __init__(self, repository: Repository) -> None:
        self._repo = repository

    async def write(self, record: UsageRecord) -> None:
        await asyncio.to_thread(self._repo.record_usage, storable(record))

    def summary(
        self,
        key_id: str | None = None,
        model: str | None = None,
        since: str | None = None,
        until: str | None = None,
        user_id: str | None = None,
    ) -> list[UsageSummary]:
        return self._repo.usage_summary(key_id, model, since, until, user_id)

    def records(self, key_id: str | None = None, user_id: str | None = None) -> list[UsageRecord]:
        return self._repo.usage_records(key_id, user_id)
