"""A request's work as the ledger follows it (``Metered``) when what it bills is a count
(embedding tokens, search calls, moderated inputs, images) rather than a generation's
tokens: every family without a ``Completion`` meters one of these."""

from __future__ import annotations

import asyncio

__all__ = ["CountedWork"]


class CountedWork:
    """Its usage is itself: ``prompt_tokens`` and ``completion_tokens`` are the counts the
    record is priced by (the catalog's price per million of each)."""

    cached_tokens = 0

    def __init__(
        self, prompt_tokens: int = 0, completion_tokens: int = 0, *, cancellable: bool = True
    ) -> None:
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self._cancellable = cancellable
        self._done = asyncio.Event()
        self._failed = False
        self._cancelled = False

    # -- Metered --

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
    def usage(self) -> CountedWork:
        return self

    def cancel(self) -> None:
        # The work of a dropped request runs to its end anyway (it is short, or already
        # on its engine); the record says it was cancelled.
        if self._cancellable and not self.finished:
            self._cancelled = True

    async def wait_finished(self) -> None:
        await self._done.wait()

    def end(self, *, failed: bool = False, cancelled: bool = False) -> None:
        self._failed = self._failed or failed
        self._cancelled = self._cancelled or cancelled
        self._done.set()
