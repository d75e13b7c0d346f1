"""One image or video generation as the ledger follows it (``Metered``): billed per
image or video, so its usage counts units, not tokens (docs/images.md, "Billing")."""

from __future__ import annotations

import asyncio

from glmserve.catalog import Price

__all__ = ["MediaWork", "unit_price"]


def unit_price(usd_each: float) -> Price:
    """The ledger's price (USD per million units) of ``usd_each`` per image or video:
    a record's cost is its ``completion_tokens`` (images or videos made) at this price."""
    return Price(0.0, 0.0, usd_each * 1_000_000)


class MediaWork:
    prompt_tokens = 0
    cached_tokens = 0

    def __init__(self) -> None:
        self.completion_tokens = 0
        """Images (or videos) made: the billed units."""
        self._done = asyncio.Event()
        self._failed = False
        self._cancelled = False

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    @property
    def failed(self) -> bool:
        return self._failed

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def finish_reason(self) -> str:
        return "error" if self._failed else "stop"

    @property
    def usage(self) -> MediaWork:
        return self

    def cancel(self) -> None:
        if not self.finished:
            self._cancelled = True

    async def wait_finished(self) -> None:
        await self._done.wait()

    def end(self, units: int = 0, *, failed: bool = False, cancelled: bool = False) -> None:
        self.completion_tokens = units
        self._failed = self._failed or failed
        self._cancelled = self._cancelled or cancelled
        self._done.set()
