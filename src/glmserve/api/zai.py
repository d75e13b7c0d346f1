"""Routes of the Z.AI surface, ``/api/paas/v4``: chat completions and models.

HTTP only: read the body, hand it to protocol and platform, frame the answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from glmserve.api.deps import attempt, glmserve
from glmserve.api.sse import sse_response
from glmserve.app import GlmServe
from glmserve.errors import EngineFailure
from glmserve.platform.admission import Attempt
from glmserve.platform.completions import Completion
from glmserve.protocol.chat import parse_chat_request
from glmserve.protocol.responses import DONE_EVENT, ChunkEncoder, completion_body, models_body

__all__ = ["router"]

router = APIRouter()


@router.post("/chat/completions")
async def chat_completions(
    request: Request,
    app: GlmServe = Depends(glmserve),
    metered: Attempt = Depends(attempt),
) -> Response:
    chat = parse_chat_request(await request.body())
    metered.describe(chat.model, chat.request_id)
    # Rendering and tokenizing a long conversation takes a while: not on the event loop.
    prepared = await asyncio.to_thread(app.completions.prepare, chat)
    # Admission (balance, limits, request_id) then start; the record is written by
    # the ``attempt`` dependency when the response is over, whatever its end.
    completion = await metered.start(prepared, app.completions)
    if prepared.stream:
        return sse_response(_stream(completion), app.settings.keepalive_seconds, completion.cancel)
    return JSONResponse(await _collect(completion, request))


@router.get("/models")
async def list_models(app: GlmServe = Depends(glmserve)) -> dict[str, Any]:
    return models_body([(m.code, m.created) for m in app.models])


async def _stream(completion: Completion) -> AsyncIterator[bytes]:
    prepared = completion.prepared
    encoder = ChunkEncoder(id=prepared.id, created=prepared.created, model=prepared.model.code)
    async for delta in completion.deltas():
        field = "content" if delta.kind == "content" else "reasoning_content"
        yield encoder.delta(**{field: delta.text})
    # Z.AI: a stream that fails mid-way reports it in finish_reason, not as an error code.
    yield encoder.finish(completion.finish_reason, completion.usage)
    yield DONE_EVENT


async def _collect(completion: Completion, request: Request) -> dict[str, Any]:
    """Run a non-stream completion; stop generating if the client goes away."""
    watcher = asyncio.create_task(_cancel_on_disconnect(request, completion))
    parts: dict[str, list[str]] = {"content": [], "reasoning": []}
    try:
        async for delta in completion.deltas():
            parts[delta.kind].append(delta.text)
    finally:
        watcher.cancel()
    if completion.failed:
        raise EngineFailure(
            f"Network error, error id: {completion.prepared.id}, generation failed."
        )
    prepared = completion.prepared
    message: dict[str, Any] = {"role": "assistant", "content": "".join(parts["content"])}
    if parts["reasoning"]:
        message["reasoning_content"] = "".join(parts["reasoning"])
    return completion_body(
        id=prepared.id,
        request_id=prepared.request_id,
        created=prepared.created,
        model=prepared.model.code,
        message=message,
        finish_reason=completion.finish_reason,
        usage=completion.usage,
    )


async def _cancel_on_disconnect(request: Request, completion: Completion) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            completion.cancel()
            return
