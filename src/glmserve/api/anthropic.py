"""Routes of the Anthropic-compatible surface, ``/api/anthropic/v1`` (what Claude Code
uses with ``ANTHROPIC_BASE_URL=http://host:port/api/anthropic``): messages,
count_tokens and models; and the base path itself, which Claude Code probes with
``HEAD`` before its first request.

A Messages request is translated into a chat request (protocol/anthropic.py), its
``claude-*`` model name mapped to a served model (the ``[anthropic]`` settings), and
run like any chat completion: same admission, limits and usage record. Preserved
thinking is the default here, as on the Coding endpoint. Errors on these paths are
answered in Anthropic's shape (api/errors.py).

HTTP only: read the body, hand it to protocol and serving, frame the answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from glmserve import __version__
from glmserve.api.body import json_body
from glmserve.api.deps import attempt, glmserve, principal
from glmserve.api.disconnect import in_thread_until_disconnect, until_disconnect
from glmserve.api.openapi import COMPLETION_ERRORS, documented
from glmserve.api.sse import sse_response
from glmserve.app import GlmServe
from glmserve.errors import EngineFailure
from glmserve.platform.admission import Attempt
from glmserve.platform.auth import Principal
from glmserve.platform.ids import tool_call_id
from glmserve.protocol import anthropic_responses as wire
from glmserve.protocol.anthropic import (
    CountTokensRequest,
    MessagesRequest,
    parse_messages_request,
    to_chat_request,
)
from glmserve.serving import Completion, finished_deltas

__all__ = ["router", "base_router", "PREFIX"]

PREFIX = "/api/anthropic"

router = APIRouter()
"""Mounted at ``PREFIX + "/v1"``."""

base_router = APIRouter()
"""Mounted at ``PREFIX``: the base URL, with and without its trailing slash."""


@base_router.api_route("", methods=["GET", "HEAD"], include_in_schema=False)
@base_router.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
async def base() -> dict[str, Any]:
    """No key needed: a reachability probe, like ``/health``."""
    return {"name": "glmserve", "version": __version__, "api": "anthropic"}


@router.post(
    "/messages",
    # an unknown model is 404 here (api/errors.py)
    **documented(
        MessagesRequest, surface="anthropic", stream=True, errors=(*COMPLETION_ERRORS, 404)
    ),
)
async def messages(
    request: Request,
    app: GlmServe = Depends(glmserve),
    metered: Attempt = Depends(attempt),
    raw: Any = Depends(json_body),
) -> Response:
    depth = app.settings.http.max_json_depth
    body = parse_messages_request(raw, max_depth=depth)
    chat = to_chat_request(body, app.settings.claude_models.resolve(body.model), max_depth=depth)
    metered.describe(chat.model, None)
    task_id = await app.completions.admit(chat, metered)  # before the costly work
    prepared = await in_thread_until_disconnect(
        request,
        lambda gone: app.completions.prepare(chat, coding=True, gone=gone, task_id=task_id),
        app.completions.executor_for(chat),
    )
    completion = await app.completions.start(prepared, metered)
    if prepared.stream:
        keepalive = app.settings.keepalive_seconds
        return sse_response(_stream(completion), keepalive, completion.cancel, wire.PING_EVENT)
    deltas = await until_disconnect(
        request, finished_deltas(completion, refusal=True), completion.cancel
    )
    return JSONResponse(
        wire.message_body(
            id=prepared.id,
            model=prepared.model.code,
            deltas=deltas,
            finish_reason=completion.finish_reason,
            usage=completion.usage,
            new_id=tool_call_id,
        )
    )


async def _stream(completion: Completion) -> AsyncIterator[bytes]:
    prepared = completion.prepared
    yield wire.message_start(
        id=prepared.id,
        model=prepared.model.code,
        prompt_tokens=len(prepared.generation.prompt_tokens),
    )
    yield wire.PING_EVENT
    blocks = wire.BlockBuilder(tool_call_id)
    async for delta in completion.deltas():
        for event in blocks.push(delta):
            yield event
    for event in blocks.close():
        yield event
    await completion.wait_finished()
    if completion.failed:
        yield wire.error_event(EngineFailure.generation_failed(prepared.id))
        return
    for event in wire.message_end(completion.finish_reason, completion.usage):
        yield event


@router.post(
    "/messages/count_tokens",
    **documented(CountTokensRequest, surface="anthropic", errors=(404,)),
)
async def count_tokens(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
    raw: Any = Depends(json_body),
) -> dict[str, Any]:
    depth = app.settings.http.max_json_depth
    body = parse_messages_request(raw, max_depth=depth, count_only=True)
    chat = to_chat_request(body, app.settings.claude_models.resolve(body.model), max_depth=depth)
    model = app.completions.model_for(chat).code
    # Admitted like the tokenizer: the key's limits and a slot while it renders.
    async with app.platform.admission.hold(caller, model):
        tokens = await in_thread_until_disconnect(
            request,
            lambda gone: app.completions.count_prompt_tokens(chat, coding=True, gone=gone),
            app.completions.executor_for(chat),
        )
    return {"input_tokens": tokens}


@router.get("/models", **documented(surface="anthropic", auth="none"))
async def list_models(app: GlmServe = Depends(glmserve)) -> dict[str, Any]:
    return wire.models_body([(m.code, m.created) for m in app.models])
