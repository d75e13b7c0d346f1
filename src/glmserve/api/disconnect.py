"""Stopping a non-stream request's work once its client has gone away (a stream
notices by itself: its next write fails)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from fastapi import Request

__all__ = ["until_disconnect"]

T = TypeVar("T")


async def until_disconnect(request: Request, work: Awaitable[T], cancel: Callable[[], None]) -> T:
    """Await ``work``; if the client disconnects first, call ``cancel`` (which makes the
    work end soon) and keep awaiting it."""
    watcher = asyncio.create_task(_watch(request, cancel))
    try:
        return await work
    finally:
        watcher.cancel()


async def _watch(request: Request, cancel: Callable[[], None]) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            cancel()
            return
