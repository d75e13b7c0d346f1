"""Routes of the Z.AI surfaces, ``/api/paas/v4`` and the Coding endpoint
``/api/coding/paas/v4``: chat completions and models.

The two surfaces have the same routes; on the Coding endpoint preserved thinking
(``clear_thinking: false``) is the default, as on Z.AI's Coding Plan.

HTTP only: read the body, hand it to protocol and serving, frame the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from glmserve.api.body import json_body
from glmserve.api.deps import attempt, glmserve
from glmserve.api.disconnect import in_thread_until_disconnect, until_disconnect
from glmserve.api.openapi import COMPLETION_ERRORS, documented
from glmserve.api.sse import sse_response
from glmserve.app import GlmServe
from glmserve.platform.admission import Attempt
from glmserve.platform.ids import tool_call_id
from glmserve.protocol.chat import ChatCompletionRequest, parse_chat_request
from glmserve.protocol.deltas import StreamShaper
from glmserve.protocol.responses import DONE_EVENT, ChunkEncoder, models_body, result_body
from glmserve.serving import Completion, collect_result
from glmserve.serving.web_search import Grounding

__all__ = ["make_router"]


def make_router(*, coding: bool) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/chat/completions",
        **documented(ChatCompletionRequest, stream=True, errors=COMPLETION_ERRORS),
    )
    async def chat_completions(
        request: Request,
        app: GlmServe = Depends(glmserve),
        metered: Attempt = Depends(attempt),
        raw: Any = Depends(json_body),
    ) -> Response:
        chat = parse_chat_request(raw, max_depth=app.settings.http.max_json_depth)
        metered.describe(chat.model, chat.request_id)
        # Admission (balance, limits, request_id) before any costly work; the record is
        # written by the ``attempt`` dependency when the response is over, whatever its end.
        task_id = await app.completions.admit(chat, metered)
        # A web_search tool: glmserve searches and puts the results in the prompt.
        grounding = await app.web_search.ground(chat, metered)
        chat = grounding.request
        # mcp tools: glmserve calls the MCP servers between the model's turns.
        answered = await app.mcp_chat.answer(chat, metered, coding=coding)
        if answered is not None:
            if grounding.shown is not None:
                answered["web_search"] = grounding.shown
            return JSONResponse(answered)
        # Rendering and tokenizing a long conversation takes a while: not on the event
        # loop, and given up when the client leaves.
        prepared = await in_thread_until_disconnect(
            request,
            lambda gone: app.completions.prepare(chat, coding=coding, gone=gone, task_id=task_id),
            app.completions.executor_for(chat),
        )
        completion = await app.completions.start(prepared, metered)
        if prepared.stream:
            keepalive = app.settings.keepalive_seconds
            events = _stream(completion, grounding)
            return sse_response(events, keepalive, completion.cancel)
        result = await until_disconnect(request, collect_result(completion), completion.cancel)
        body = result_body(result, tool_call_id)
        if grounding.shown is not None:
            body["web_search"] = grounding.shown
        return JSONResponse(body)

    @router.get("/models", **documented(auth="none"))
    async def list_models(app: GlmServe = Depends(glmserve)) -> dict[str, Any]:
        body = models_body([(m.code, m.created) for m in app.models])
        body["data"].extend(app.embeddings.model_entries())
        body["data"].extend(app.images.model_entries())
        return body

    return router


async def _stream(completion: Completion, grounding: Grounding) -> AsyncIterator[bytes]:
    prepared = completion.prepared
    encoder = ChunkEncoder(id=prepared.id, created=prepared.created, model=prepared.model.code)
    shaper = StreamShaper(tool_stream=prepared.tool_stream, new_id=tool_call_id)
    results = {"web_search": grounding.shown} if grounding.shown is not None else None
    if results is not None and grounding.sequence == "before":
        yield encoder.delta(top=results, content="")
    async for delta in completion.deltas():
        for fields in shaper.push(delta):
            yield encoder.delta(**fields)
    for fields in shaper.flush():
        yield encoder.delta(**fields)
    if results is not None and grounding.sequence == "after":
        yield encoder.delta(top=results, content="")
    # Z.AI: a stream that fails mid-way reports it in finish_reason, not as an error code.
    flagged = completion.content_filter
    if prepared.include_usage:
        yield encoder.finish(completion.finish_reason, None, flagged)
        yield encoder.usage(completion.usage)
    else:
        yield encoder.finish(completion.finish_reason, completion.usage, flagged)
    yield DONE_EVENT
