"""The remote engine's own event loop, in a thread of its own.

The engine's HTTP clients, health probes and request streams live on this loop, so the
engine works the same whatever loop (or thread) its callers run on: a generation is
started from the caller's loop and its tokens are handed back to that loop, as the
embedded engine's decode thread hands them back (engine/llama/engine.py).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread"]

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn(*args)`` on the loop (from any thread); a no-op once it is closed."""
        with contextlib.suppress(RuntimeError):
            self.loop.call_soon_threadsafe(fn, *args)

    def stop(self) -> None:
        self.call(self.loop.stop)
        self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()
