"""A remote generation as the caller sees it: tokens arrive on the caller's event loop.

The request runs on the engine's loop (dispatch.py), which hands tokens over with
``call_soon_threadsafe``. A worker's refusal that the serving layer must answer with its
own code (``ContextExceeded``: 1261, ``EngineBusy``: 1312) is raised by the iterator,
and only before any token: once text has been handed out, a failure ends the
generation with ``finish_reason="error"``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from glmserve.engine.types import FinishReason, QueuedGeneration, TokenOut, Usage

__all__ = ["RemoteGeneration"]


class RemoteGeneration(QueuedGeneration):
    def __init__(
        self, caller: asyncio.AbstractEventLoop, engine_loop: asyncio.AbstractEventLoop
    ) -> None:
        super().__init__()
        self._caller = caller
        self._engine_loop = engine_loop
        self._task: asyncio.Task[None] | None = None
        self.cancel_requested = False
        """Set on the engine's loop; the runner checks it before it starts."""
        self.rejection: Exception | None = None
        self.worker: str | None = None
        """The URL of the worker that served (or last tried) this generation."""

    async def __aiter__(self) -> AsyncIterator[TokenOut]:
        while True:
            item = await self.queue.get()
            if item is None:
                break
            yield item
        if self.rejection is not None:
            raise self.rejection

    def cancel(self) -> None:
        if self.finish_reason is None:
            # RuntimeError: the engine is closed, and its generations have ended.
            with contextlib.suppress(RuntimeError):
                self._engine_loop.call_soon_threadsafe(self._cancel_on_engine_loop)

    # -- the engine's loop --

    def attach(self, task: asyncio.Task[None] | None) -> None:
        self._task = task

    def _cancel_on_engine_loop(self) -> None:
        self.cancel_requested = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def post(self, tokens: list[TokenOut]) -> None:
        if tokens:
            self._call(self._put_all, tokens)

    def end(
        self,
        reason: FinishReason,
        usage: Usage,
        error: str | None = None,
        rejection: Exception | None = None,
    ) -> None:
        self._call(self._end, reason, usage, error, rejection)

    def _call(self, fn: Callable[..., object], *args: object) -> None:
        try:
            self._caller.call_soon_threadsafe(fn, *args)
        except RuntimeError:  # the caller's loop is closed: nobody is listening
            self._cancel_on_engine_loop()

    # -- the caller's loop --

    def _put_all(self, tokens: list[TokenOut]) -> None:
        for token in tokens:
            self.queue.put_nowait(token)

    def _end(
        self, reason: FinishReason, usage: Usage, error: str | None, rejection: Exception | None
    ) -> None:
        self.finish_reason, self.usage, self.error = reason, usage, error
        self.rejection = rejection
        self.queue.put_nowait(None)
