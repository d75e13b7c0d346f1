"""One embeddings (or rerank) request's work as the ledger follows it (``Metered``):
its input tokens, and how it ended."""

from __future__ import annotations

import asyncio

__all__ = ["EmbeddingWork"]


class EmbeddingWork:
    """Usage of an embeddings request: all of it is prompt tokens."""

    cached_tokens = 0
    completion_tokens = 0

    def __init__(self, prompt_tokens: int) -> None:
        self.prompt_tokens = prompt_tokens
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
    def usage(self) -> EmbeddingWork:
        return self

    def cancel(self) -> None:
        # The vectors of a dropped request are computed anyway (one short decode);
        # the record says it was cancelled.
        if not self.finished:
            self._cancelled = True

    async def wait_finished(self) -> None:
        await self._done.wait()

    def end(self, *, failed: bool = False, cancelled: bool = False) -> None:
        self._failed = self._failed or failed
        self._cancelled = self._cancelled or cancelled
        self._done.set()
