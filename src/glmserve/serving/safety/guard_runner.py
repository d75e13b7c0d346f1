"""How the safety layer asks the guard model: a plain chat completion on the served
model, through a pipeline of its own with no content filter (the guard is never
screened by itself), greedy, thinking off, outside admission and the ledger (it is the
server's own work, done for the request it screens)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from glmserve.errors import EngineFailure, GlmServeError
from glmserve.protocol.chat import parse_chat_request
from glmserve.serving.completion import completion_result
from glmserve.serving.completions import CompletionService
from glmserve.serving.models import ModelRegistry

__all__ = ["GuardRunner"]


class GuardRunner:
    def __init__(self, models: ModelRegistry, code: str, max_tokens: int) -> None:
        self._service = CompletionService(models)
        self._code = code
        self._max_tokens = max_tokens

    async def __call__(self, messages: list[dict[str, Any]]) -> str:
        body = {
            "model": self._code,
            "messages": messages,
            "max_tokens": self._max_tokens,
            "do_sample": False,
            "thinking": {"type": "disabled"},
        }
        request = parse_chat_request(json.dumps(body).encode())
        try:
            prepared = await asyncio.to_thread(self._service.prepare, request)
            result = await completion_result(self._service.run(prepared))
        except GlmServeError as exc:
            raise EngineFailure(
                f"Network error: the content-safety guard model {self._code} failed "
                f"({exc.code}: {exc.message})"
            ) from None
        message = result["choices"][0]["message"]
        return str(message.get("content") or message.get("reasoning_content") or "")
