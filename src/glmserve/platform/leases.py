"""The leases of stored work a gateway holds: async tasks and batches alike.

A worker claims a row with a lease (``lease_ms`` from now) and this loop renews the
leases of every row the gateway holds, a third of a lease at a time, until it lets go;
a row whose gateway stopped or died is claimed again once its lease runs out, by any
gateway of the same database. A graceful stop hands a row back at once (a lease that
ends now).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Sequence

__all__ = ["Leases"]

log = logging.getLogger(__name__)

Renew = Callable[[str, Sequence[str], int], None]
"""The repository's renewal: (owner, ids, until_ms), blocking."""


class Leases:
    def __init__(self, renew: Renew, lease_ms: int, what: str) -> None:
        self.owner = secrets.token_hex(8)
        """Who holds the claims: this gateway, for this kind of work."""
        self.lease_ms = lease_ms
        self.held: set[str] = set()
        self._renew = renew
        self._what = what

    async def keep(self) -> None:
        """Renew the held leases until cancelled."""
        while True:
            await asyncio.sleep(self.lease_ms / 3000)
            until = int(time.time() * 1000) + self.lease_ms
            try:
                await asyncio.to_thread(self._renew, self.owner, list(self.held), until)
            except Exception:
                log.warning("renewing %s leases failed", self._what, exc_info=True)

    def hand_back(self, row_id: str) -> None:
        """End a lease now, so the row is claimed again at once (blocking)."""
        self._renew(self.owner, [row_id], 0)
