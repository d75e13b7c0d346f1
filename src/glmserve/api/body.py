"""Reading a request body within the ``[http]`` limits: the one way routes get theirs.

A route that takes a JSON body declares ``raw: Any = Depends(json_body)`` (and
describes the body's model with ``api/openapi.py``'s ``documented``): the body is
refused with 413 as soon as it is known to be too large (its Content-Length, or the
bytes read so far), with 408 if it does not arrive in time, and with 400 / 1210 if it is
not JSON we accept (protocol/json_text.py). Memory held for a body is therefore at
most ``max_body_bytes`` and a copy, whatever the client sends. docs/api.md, "Request
limits", and docs/configuration.md, "Request limits and timeouts".
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Request
from starlette.requests import ClientDisconnect

from glmserve.api.deps import glmserve
from glmserve.config import HttpSettings
from glmserve.errors import BodyTimeout, BodyTooLarge, ClientGone
from glmserve.protocol.json_text import decode_json

__all__ = ["json_body", "read_body"]


async def json_body(request: Request) -> Any:
    """FastAPI dependency: the request's body, read within the limits and parsed."""
    limits = glmserve(request).settings.http
    body = await read_body(request, limits)
    return decode_json(body, max_depth=limits.max_json_depth)


async def read_body(request: Request, limits: HttpSettings) -> bytes:
    """The raw body; ``BodyTooLarge``, ``BodyTimeout`` or ``ClientGone`` otherwise."""
    limit = limits.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.body_timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise BodyTooLarge(limit)
                chunks.append(chunk)
    except TimeoutError:
        raise BodyTimeout(limits.body_timeout_seconds) from None
    except ClientDisconnect:
        raise ClientGone() from None
    return b"".join(chunks)
