"""Keep-alive comments during silence, and clean-up when a stream ends or is cut off."""

import asyncio
from collections.abc import AsyncIterator

from glmserve.api.sse import KEEPALIVE, with_keepalive


async def _slow(events: list[bytes], pause: float) -> AsyncIterator[bytes]:
    for event in events:
        await asyncio.sleep(pause)
        yield event


def test_keepalive_comments_fill_silence_and_events_keep_their_order() -> None:
    closed: list[bool] = []

    async def go() -> list[bytes]:
        stream = with_keepalive(_slow([b"a", b"b"], 0.2), 0.05, lambda: closed.append(True))
        return [e async for e in stream]

    out = asyncio.run(go())
    assert [e for e in out if e != KEEPALIVE] == [b"a", b"b"]
    assert KEEPALIVE in out
    assert KEEPALIVE.startswith(b":") and KEEPALIVE.endswith(b"\n\n")
    assert closed == [True]


def test_on_close_runs_when_the_consumer_stops_early() -> None:
    closed: list[bool] = []

    async def go() -> None:
        stream = with_keepalive(_slow([b"a", b"b", b"c"], 0.01), 5, lambda: closed.append(True))
        async for _ in stream:
            break
        await stream.aclose()  # type: ignore[attr-defined]

    asyncio.run(go())
    assert closed == [True]
