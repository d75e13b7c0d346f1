"""Stopping a request's work once its client has gone away: preparing a prompt (which
runs in a thread) and a non-stream completion (a stream notices by itself: its next
write fails)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from typing import TypeVar

from fastapi import Request

from glmserve.errors import ClientGone

__all__ = ["until_disconnect", "in_thread_until_disconnect"]

T = TypeVar("T")


async def until_disconnect(request: Request, work: Awaitable[T], cancel: Callable[[], None]) -> T:
    """Await ``work``; if the client disconnects first, call ``cancel`` (which makes the
    work end soon) and keep awaiting it."""
    watcher = asyncio.create_task(_watch(request, cancel))
    try:
        return await work
    finally:
        watcher.cancel()


async def in_thread_until_disconnect(
    request: Request, work: Callable[[threading.Event], T], executor: Executor | None = None
) -> T:
    """Run ``work(gone)`` off the event loop, on ``executor`` (serving's bounded one for
    prompts and grammars); ``gone`` is set when the client disconnects, and ``work``
    checks it between its steps (serving's ``prepare`` does). Work still waiting for a
    thread when the client leaves never starts. A request whose client left ends with
    ``ClientGone``."""
    gone = threading.Event()
    # As asyncio.to_thread does: the work sees the request's context variables.
    run = contextvars.copy_context().run
    future = asyncio.get_running_loop().run_in_executor(executor, run, work, gone)

    def left() -> None:
        gone.set()
        future.cancel()  # a thread not yet taken: the work never runs

    watcher = asyncio.create_task(_watch(request, left))
    try:
        result = await future
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if gone.is_set() and (task is None or not task.cancelling()):
            raise ClientGone() from None
        raise
    finally:
        watcher.cancel()
    if gone.is_set():
        raise ClientGone()
    return result


async def _watch(request: Request, cancel: Callable[[], None]) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            cancel()
            return
