"""How the safety layer asks the guard model: a plain chat completion on the served
model, through a pipeline of its own with no content filter (the guard is never
screened by itself), greedy, thinking off, outside admission and the ledger (it is the
server's own work, done for the request it screens)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from glmserve.chat.output import collect
from glmserve.config import HttpSettings
from glmserve.errors import EngineFailure, GlmServeError
from glmserve.protocol.chat import parse_chat_request
from glmserve.serving.models.registry import ModelRegistry
from glmserve.serving.run.completion import collect_result
from glmserve.serving.service import CompletionService

__all__ = ["GuardRunner"]

_DEPTH = HttpSettings().max_json_depth  # the messages are ours: the default limit holds them


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
        request = parse_chat_request(json.dumps(body).encode(), max_depth=_DEPTH)
        try:
            prepared = await asyncio.to_thread(self._service.prepare, request)
            result = await collect_result(self._service.run(prepared))
        except GlmServeError as exc:
            raise EngineFailure(
                f"Network error: the content-safety guard model {self._code} failed "
                f"({exc.code}: {exc.message})"
            ) from None
        message = collect(result.deltas)
        return message.content or message.reasoning_content or ""
