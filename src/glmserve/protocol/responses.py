"""Chat completion responses and stream chunks, shaped as Z.AI sends them.

Non-stream: ``id``, ``request_id``, ``created`` (seconds), ``model``, ``choices``,
``usage`` with ``prompt_tokens_details.cached_tokens`` always present. Stream: one
``data:`` event per delta; the chunk with ``finish_reason`` carries ``usage``; then
``data: [DONE]``. ``object`` is added for OpenAI clients (the Z.AI SDKs ignore it).

Chunks are encoded on the token hot path, so the constant head of every chunk is
serialized once per stream.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from glmserve.chat.output import Delta
from glmserve.engine.types import Usage
from glmserve.errors import GlmServeError
from glmserve.protocol.deltas import message_body

__all__ = [
    "ChatUsage",
    "usage_body",
    "completion_body",
    "FinishedCompletion",
    "result_body",
    "error_body",
    "ChunkEncoder",
    "DONE_EVENT",
    "models_body",
]

DONE_EVENT = b"data: [DONE]\n\n"


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True)
class ChatUsage(Usage):
    """A chat completion's usage: the engine's counts and the reasoning tokens (the
    tokens inside the thinking block, ``completion_tokens_details.reasoning_tokens``)."""

    reasoning_tokens: int = 0


def usage_body(usage: Usage) -> dict[str, Any]:
    body: dict[str, Any] = {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": usage.cached_tokens},
    }
    if isinstance(usage, ChatUsage):
        body["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return body


def completion_body(
    *,
    id: str,
    request_id: str,
    created: int,
    model: str,
    message: dict[str, Any],
    finish_reason: str,
    usage: Usage,
    content_filter: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``content_filter``: Z.AI's ``[{role, level}]`` where content safety flagged
    something (left out when nothing was)."""
    body = {
        "id": id,
        "request_id": request_id,
        "created": created,
        "model": model,
        "object": "chat.completion",
        "choices": [{"index": 0, "finish_reason": finish_reason, "message": message}],
        "usage": usage_body(usage),
    }
    if content_filter:
        body["content_filter"] = content_filter
    return body


class FinishedCompletion(Protocol):
    """A completion run to its end, as the serving layer types it (its
    ``CompletionResult``): what a non-stream body is made of."""

    @property
    def id(self) -> str: ...
    @property
    def request_id(self) -> str: ...
    @property
    def created(self) -> int: ...
    @property
    def model(self) -> str: ...
    @property
    def deltas(self) -> Sequence[Delta]: ...
    @property
    def finish_reason(self) -> str: ...
    @property
    def usage(self) -> ChatUsage: ...
    @property
    def content_filter(self) -> Sequence[Mapping[str, object]]: ...


def result_body(result: FinishedCompletion, new_call_id: Callable[[], str]) -> dict[str, Any]:
    """The non-stream chat completion body of a finished completion (content, reasoning
    and tool calls; ``new_call_id`` names each tool call)."""
    return completion_body(
        id=result.id,
        request_id=result.request_id,
        created=result.created,
        model=result.model,
        message=message_body(result.deltas, new_call_id),
        finish_reason=result.finish_reason,
        usage=result.usage,
        content_filter=[dict(flag) for flag in result.content_filter],
    )


class ChunkEncoder:
    """Encodes the SSE events of one streamed completion."""

    def __init__(self, *, id: str, created: int, model: str) -> None:
        head = _dumps(
            {"id": id, "created": created, "model": model, "object": "chat.completion.chunk"}
        )
        self._head = "data: " + head[:-1] + ',"choices":['

    def delta(self, top: dict[str, Any] | None = None, **fields: Any) -> bytes:
        """A chunk whose delta holds the given fields (content=..., tool_calls=...);
        ``top``: fields of the chunk itself (the web_search tool's ``web_search``)."""
        delta = _dumps({"role": "assistant", **fields})
        rest = "," + _dumps(top)[1:-1] if top else ""
        return f'{self._head}{{"index":0,"delta":{delta}}}]{rest}}}\n\n'.encode()

    def finish(
        self,
        finish_reason: str,
        usage: Usage | None,
        content_filter: list[dict[str, Any]] | None = None,
    ) -> bytes:
        """The finish chunk: empty content, the finish reason and (Z.AI's convention)
        the usage; without ``usage`` it carries none. ``content_filter``: what content
        safety flagged (left out when nothing was)."""
        choice = _dumps(
            {
                "index": 0,
                "finish_reason": finish_reason,
                "delta": {"role": "assistant", "content": ""},
            }
        )
        tail = f',"content_filter":{_dumps(content_filter)}' if content_filter else ""
        if usage is None:
            return f"{self._head}{choice}]{tail}}}\n\n".encode()
        usage_text = _dumps(usage_body(usage))
        return f'{self._head}{choice}],"usage":{usage_text}{tail}}}\n\n'.encode()

    def usage(self, usage: Usage) -> bytes:
        """``stream_options.include_usage``: a last chunk with empty ``choices`` and the
        usage (the OpenAI and DashScope convention)."""
        return f'{self._head}],"usage":{_dumps(usage_body(usage))}}}\n\n'.encode()


def error_body(error: GlmServeError) -> dict[str, Any]:
    """Z.AI's error body: ``{"error": {"code": "<business code>", "message": "..."}}``,
    the one place it is built (HTTP errors, async task failures)."""
    return {"error": {"code": error.code, "message": error.message}}


def models_body(models: list[tuple[str, int]]) -> dict[str, Any]:
    return {
        "object": "list",
        "data": [
            {"id": code, "object": "model", "created": created, "owned_by": "glmserve"}
            for code, created in models
        ],
    }
