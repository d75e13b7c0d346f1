"""Server-sent events as the Z.AI SDKs parse them.

Every event is ``data: <json>`` and ends with a blank line (the SDK drops a last event
without one). While nothing is ready to send, a ``:`` comment line keeps proxies and
clients from timing out; an event with empty data would make the SDK's JSON parser fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from starlette.responses import StreamingResponse

__all__ = ["KEEPALIVE", "with_keepalive", "sse_response"]

KEEPALIVE = b": keep-alive\n\n"

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


async def with_keepalive(
    events: AsyncIterator[bytes],
    every: float,
    on_close: Callable[[], None],
    keepalive: bytes = KEEPALIVE,
) -> AsyncIterator[bytes]:
    """The events, with a keep-alive comment after each ``every`` seconds of silence.

    ``on_close`` runs when the stream ends for any reason, the client going away
    included. It must be synchronous: once the server cancels a stream, awaiting in
    clean-up code is itself cancelled.
    """
    iterator = aiter(events)
    pending: asyncio.Future[bytes] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(iterator))
            done, _ = await asyncio.wait({pending}, timeout=every)
            if not done:
                yield keepalive
                continue
            task, pending = pending, None
            try:
                event = task.result()
            except StopAsyncIteration:
                return
            yield event
    finally:
        if pending is not None:
            pending.cancel()
        on_close()


def sse_response(
    events: AsyncIterator[bytes],
    keepalive_seconds: float,
    on_close: Callable[[], None],
    keepalive: bytes = KEEPALIVE,
) -> StreamingResponse:
    """``keepalive``: what is sent during silences (the Anthropic surface sends ``ping``
    events, as its SDKs expect)."""
    return StreamingResponse(
        with_keepalive(events, keepalive_seconds, on_close, keepalive),
        media_type="text/event-stream",
        headers=SSE_HEADERS,
    )
