"""One image or video generation as the ledger follows it (``Metered``): billed per
image or video, so its usage counts units, not tokens (docs/images.md, "Billing")."""

from __future__ import annotations

from glmserve.catalog import Price
from glmserve.serving.run.counted import CountedWork

__all__ = ["MediaWork", "unit_price"]


def unit_price(usd_each: float) -> Price:
    """The ledger's price (USD per million units) of ``usd_each`` per image or video:
    a record's cost is its ``completion_tokens`` (images or videos made) at this price."""
    return Price(0.0, 0.0, usd_each * 1_000_000)


class MediaWork(CountedWork):
    """Its ``completion_tokens`` are the images (or videos) made: the billed units."""

    def end(self, units: int = 0, *, failed: bool = False, cancelled: bool = False) -> None:
        self.completion_tokens = units
        super().end(failed=failed, cancelled=cancelled)
