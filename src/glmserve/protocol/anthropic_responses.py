"""Anthropic Messages responses: the message body, the stream's events, usage, errors.

Message deltas become content blocks in the order the model wrote them: consecutive
reasoning is one ``thinking`` block, consecutive content one ``text`` block, each tool
call one ``tool_use`` block. A stream is (the Messages API's order)::

    message_start, ping,
    (content_block_start, content_block_delta..., content_block_stop)...,
    message_delta (stop_reason, usage), message_stop

with ``text_delta``, ``thinking_delta`` (then one ``signature_delta`` before the
thinking block stops) and ``input_json_delta`` deltas, and ``ping`` events while the
model is silent. A thinking block's ``signature`` is a digest of its text: clients
must send it back, but nothing here verifies it (Z.AI's are not Anthropic's either).

Usage: ``input_tokens`` excludes the prompt tokens read from the cache, which are
``cache_read_input_tokens`` (Anthropic's accounting: their sum is the prompt).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from glmserve.chat.output import Delta
from glmserve.engine.types import Usage
from glmserve.errors import GlmServeError, ModelNotFound, PromptTooLong

__all__ = [
    "PING_EVENT",
    "BlockBuilder",
    "stop_reason",
    "usage_body",
    "message_body",
    "message_start",
    "message_end",
    "error_body",
    "error_event",
    "error_status",
    "too_long_message",
    "models_body",
]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def event(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {_dumps({'type': kind, **data})}\n\n".encode()


PING_EVENT = event("ping", {})

_STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "model_context_window_exceeded": "model_context_window_exceeded",
    "sensitive": "refusal",
}


def stop_reason(finish_reason: str) -> str:
    return _STOP_REASONS.get(finish_reason, "end_turn")


def usage_body(usage: Usage) -> dict[str, int]:
    return {
        "input_tokens": usage.prompt_tokens - usage.cached_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": usage.cached_tokens,
        "output_tokens": usage.completion_tokens,
    }


def _signature(thinking: str) -> str:
    return hashlib.sha256(thinking.encode()).hexdigest()


class BlockBuilder:
    """Folds deltas into content blocks; ``push`` returns the stream events they make.

    ``blocks`` holds the finished blocks (after ``close``, all of them), as the
    non-stream response carries them.
    """

    def __init__(self, new_id: Callable[[], str]) -> None:
        self._new_id = new_id
        self.blocks: list[dict[str, Any]] = []
        self._open: dict[str, Any] | None = None
        self._text: list[str] = []
        self._call_index = -1

    def push(self, delta: Delta) -> list[bytes]:
        out: list[bytes] = []
        if delta.kind == "tool_call":
            if delta.name is not None or self._call_index != delta.index:
                out += self._start(
                    {
                        "type": "tool_use",
                        "id": self._new_id(),
                        "name": delta.name or "",
                        "input": {},
                    }
                )
                self._call_index = delta.index
            if delta.text:
                out.append(self._delta({"type": "input_json_delta", "partial_json": delta.text}))
            return out
        if not delta.text:
            return out
        kind = "text" if delta.kind == "content" else "thinking"
        if self._open is None or self._open["type"] != kind:
            block = {"type": "text", "text": ""} if kind == "text" else {
                "type": "thinking", "thinking": "", "signature": ""
            }  # fmt: skip
            out += self._start(block)
        field = "text_delta" if kind == "text" else "thinking_delta"
        out.append(self._delta({"type": field, kind: delta.text}))
        return out

    def close(self) -> list[bytes]:
        """End the open block, if any."""
        block = self._open
        if block is None:
            return []
        out: list[bytes] = []
        joined = "".join(self._text)
        if block["type"] == "text":
            block["text"] = joined
        elif block["type"] == "thinking":
            block["thinking"] = joined
            block["signature"] = _signature(joined)
            out.append(self._delta({"type": "signature_delta", "signature": block["signature"]}))
        else:
            block["input"] = _tool_input(joined)
        out.append(event("content_block_stop", {"index": len(self.blocks)}))
        self.blocks.append(block)
        self._open, self._text, self._call_index = None, [], -1
        return out

    def _start(self, block: dict[str, Any]) -> list[bytes]:
        out = self.close()
        self._open = block
        start = {"index": len(self.blocks), "content_block": block}
        out.append(event("content_block_start", json.loads(_dumps(start))))
        return out

    def _delta(self, delta: dict[str, Any]) -> bytes:
        text = delta.get("text", delta.get("thinking", delta.get("partial_json")))
        if isinstance(text, str):
            self._text.append(text)
        return event("content_block_delta", {"index": len(self.blocks), "delta": delta})


def _tool_input(arguments: str) -> dict[str, Any]:
    try:
        value = json.loads(arguments) if arguments.strip() else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def message_body(
    *,
    id: str,
    model: str,
    deltas: Iterable[Delta],
    finish_reason: str,
    usage: Usage,
    new_id: Callable[[], str],
) -> dict[str, Any]:
    builder = BlockBuilder(new_id)
    for delta in deltas:
        builder.push(delta)
    builder.close()
    return {
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": builder.blocks,
        "stop_reason": stop_reason(finish_reason),
        "stop_sequence": None,
        "usage": usage_body(usage),
    }


def message_start(*, id: str, model: str, prompt_tokens: int) -> bytes:
    message: dict[str, Any] = {
        "id": id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage_body(Usage(prompt_tokens=prompt_tokens)),
    }
    return event("message_start", {"message": message})


def message_end(finish_reason: str, usage: Usage) -> list[bytes]:
    """``message_delta`` with the stop reason and the final usage, then ``message_stop``."""
    delta = {"stop_reason": stop_reason(finish_reason), "stop_sequence": None}
    return [
        event("message_delta", {"delta": delta, "usage": usage_body(usage)}),
        event("message_stop", {}),
    ]


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    529: "overloaded_error",
}


def error_status(error: GlmServeError) -> int:
    """The HTTP status in Anthropic's terms: an unknown model is 404 there."""
    return 404 if isinstance(error, ModelNotFound) else error.status


def error_body(error: GlmServeError) -> dict[str, Any]:
    """Anthropic's error body, the one place it is built (HTTP errors, stream errors)."""
    status = error_status(error)
    kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    message = error.message
    if isinstance(error, PromptTooLong):
        message = too_long_message(error.prompt_tokens, error.context_size)
    return {"type": "error", "error": {"type": kind, "message": message}}


def too_long_message(prompt_tokens: int, context_size: int) -> str:
    """Anthropic's words for a prompt over the context window: Claude Code reads the two
    numbers from them and tells its user to compact (docs/anthropic.md)."""
    return f"prompt is too long: {prompt_tokens} tokens > {context_size} maximum"


def error_event(error: GlmServeError) -> bytes:
    """A mid-stream failure, which the anthropic SDKs raise as an API error."""
    return event("error", {"error": error_body(error)["error"]})


def models_body(models: list[tuple[str, int]]) -> dict[str, Any]:
    data = [
        {
            "type": "model",
            "id": code,
            "display_name": code,
            "created_at": datetime.fromtimestamp(created, UTC).isoformat().replace("+00:00", "Z"),
        }
        for code, created in models
    ]
    return {
        "data": data,
        "has_more": False,
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
    }
