"""Z.AI platform routes beside chat: async chat, its results, and the tokenizer."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from glmserve.api.body import json_body
from glmserve.api.deps import glmserve, principal
from glmserve.api.disconnect import in_thread_until_disconnect
from glmserve.api.openapi import documented
from glmserve.app import GlmServe
from glmserve.platform.auth import Principal
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.protocol.chat import ChatCompletionRequest, parse_chat_request

__all__ = ["router"]

router = APIRouter()


@router.post("/async/chat/completions", **documented(ChatCompletionRequest, errors=(429, 503)))
async def submit_async_chat(
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
    raw: Any = Depends(json_body),
) -> dict[str, Any]:
    # The key's limits before the costly checks (rendering, tokenizing): a task refused
    # now gets the code a synchronous request would, and counts as one.
    asked = raw.get("model") if isinstance(raw, dict) else None
    code = app.jobs.handler("chat").model_code(asked) if isinstance(asked, str) else None
    if code is not None and any(m.code == code for m in app.models):  # else 1211 below
        await app.platform.tasks.admit(caller, code)
    row = await app.jobs.new_task("chat", caller.key_id, raw)
    try:
        return await app.platform.tasks.submit(caller, row)
    except BaseException:
        app.jobs.forget(row.id)
        raise


@router.get("/async-result/{task_id}", **documented(errors=(404,)))
async def async_result(
    task_id: str,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    return await app.platform.tasks.result(caller, task_id)


@router.post("/tokenizer", **documented(ChatCompletionRequest))
async def tokenizer(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
    raw: Any = Depends(json_body),
) -> dict[str, Any]:
    # The same parsing and rendering as chat: the count is the chat's prompt_tokens.
    chat = parse_chat_request(raw, max_depth=app.settings.http.max_json_depth)
    model = app.completions.model_for(chat).code
    # Admitted like the chat it counts (its limits, a slot while it renders), not billed.
    async with app.platform.admission.hold(caller, model):
        count = await in_thread_until_disconnect(
            request,
            lambda gone: app.completions.prompt_count(chat, gone=gone),
            app.completions.executor_for(chat),
        )
    tokens = count.total
    task_id = completion_id()
    return {
        "id": task_id,
        "created": now_seconds(),
        "request_id": chat.request_id or task_id,
        "usage": {
            "prompt_tokens": tokens,
            "image_tokens": count.image_tokens,
            "video_tokens": count.video_tokens,
            "total_tokens": tokens,
        },
    }
