"""Stopping a request's work once its client has gone away: preparing a prompt (which
runs in a thread) and a non-stream completion (a stream notices by itself: its next
write fails)."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request

from glmserve.api.deps import glmserve
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


async def in_thread_until_disconnect(request: Request, work: Callable[[threading.Event], T]) -> T:
    """Run ``work(gone)`` off the event loop, on the application's preparing threads;
    ``gone`` is set when the client disconnects, and ``work`` checks it between its
    steps (serving's ``prepare`` does). A request whose client left ends with
    ``ClientGone``."""
    gone = threading.Event()
    watcher = asyncio.create_task(_watch(request, gone.set))
    pool = glmserve(request).preparing
    try:
        # As asyncio.to_thread does: the work sees the request's context variables.
        run = contextvars.copy_context().run
        result = await asyncio.get_running_loop().run_in_executor(pool, run, work, gone)
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
