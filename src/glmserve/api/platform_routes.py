"""Z.AI platform routes beside chat: async chat, its results, and the tokenizer."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request

from glmserve.api.deps import glmserve, principal
from glmserve.app import GlmServe
from glmserve.platform.auth import Principal
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.protocol.chat import parse_chat_request

__all__ = ["router"]

router = APIRouter()


@router.post("/async/chat/completions")
async def submit_async_chat(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    row = await app.chat_tasks.new_task(caller.key_id, await request.body())
    return await app.platform.tasks.submit(caller, row)


@router.get("/async-result/{task_id}")
async def async_result(
    task_id: str,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    return await app.platform.tasks.result(caller, task_id)


@router.post("/tokenizer")
async def tokenizer(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    # The same parsing and rendering as chat: the count is the chat's prompt_tokens.
    chat = parse_chat_request(await request.body())
    count = await asyncio.to_thread(app.completions.prompt_count, chat)
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
