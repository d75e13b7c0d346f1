"""Interactive requests first: batch work fills a model's idle capacity only.

A batch line starts on a model once the model has had no interactive request in flight
for ``idle`` seconds (``wait_idle``), and an interactive request that starts preempts
the batch lines running on its model (``interactive``): their work is cancelled and
they wait their turn again, so a chat never queues behind, or shares decode steps
with, batch work. Batch work thus takes only what interactive traffic leaves; under
constant interactive load it waits (within the batch's completion window).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from glmserve.serving.models.registry import ModelRegistry

__all__ = ["Priority", "Preempted"]

_POLL_SECONDS = 0.02


class Preempted(Exception):
    """Batch work gave way to an interactive request; it runs again later."""


class Priority:
    def __init__(self, models: ModelRegistry, idle_seconds: float) -> None:
        self._models = models
        self.idle_seconds = idle_seconds
        self._busy_at: dict[str, float] = defaultdict(float)
        self._batch: dict[str, set[asyncio.Task[object]]] = defaultdict(set)
        self._preempted: set[asyncio.Task[object]] = set()
        self._stops: dict[asyncio.Task[object], list[Callable[[], None]]] = defaultdict(list)

    def interactive(self, model: str) -> None:
        """An interactive request is starting on ``model``: batch work there stops.

        The batch generations are cancelled here, synchronously, so their cancel
        reaches the engine before the interactive request's start does: the engine
        drops them at the end of the step in progress."""
        self._busy_at[model] = time.monotonic()
        for task in self._batch.get(model, ()):
            for stop in self._stops.pop(task, ()):
                stop()
            self._preempted.add(task)
            task.cancel()

    def track(self, stop: Callable[[], None]) -> None:
        """The batch work of the current task started generating; ``stop`` cancels it."""
        task = asyncio.current_task()
        if task is not None and any(task in tasks for tasks in self._batch.values()):
            self._stops[task].append(stop)

    def interactive_in_flight(self, model: str) -> int:
        served = self._models.get(model)
        if served is None:
            return 0
        return max(0, served.engine.stats().in_flight - len(self._batch.get(model, ())))

    async def wait_idle(self, model: str) -> None:
        """Until ``model`` has been free of interactive work for the idle time."""
        while True:
            if self.interactive_in_flight(model):
                self._busy_at[model] = time.monotonic()
            elif time.monotonic() - self._busy_at[model] >= self.idle_seconds:
                return
            await asyncio.sleep(_POLL_SECONDS)

    @asynccontextmanager
    async def batch_work(self, model: str) -> AsyncIterator[None]:
        """Run the body as batch work on ``model``: an interactive start cancels it,
        and that cancellation comes out as ``Preempted``."""
        task = asyncio.current_task()
        assert task is not None
        self._batch[model].add(task)
        try:
            yield
        except asyncio.CancelledError:
            # Given way to an interactive request, and not also being shut down.
            if task in self._preempted and task.uncancel() == 0:
                raise Preempted() from None
            raise
        finally:
            self._batch[model].discard(task)
            self._preempted.discard(task)
            self._stops.pop(task, None)
