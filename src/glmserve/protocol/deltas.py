"""Message deltas as Z.AI's stream chunks and non-stream messages carry them.

Tool calls follow docs/api.md ("Responses"): with ``stream`` and ``tool_stream`` each
call's name comes first (with its id) and its arguments follow in pieces, keyed by ``index``;
with ``stream`` alone each call arrives whole in one chunk; without ``stream`` the
message holds every call whole. ``arguments`` is always a JSON string.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from glmserve.chat.output import Delta, collect

__all__ = ["StreamShaper", "message_body"]


class StreamShaper:
    """Turns parser deltas into the ``delta`` objects of stream chunks."""

    def __init__(self, *, tool_stream: bool, new_id: Callable[[], str]) -> None:
        self._tool_stream = tool_stream
        self._new_id = new_id
        self._pending: dict[str, Any] | None = None  # a whole call being gathered

    def push(self, delta: Delta) -> list[dict[str, Any]]:
        out = []
        if self._pending is not None and (delta.kind != "tool_call" or delta.name is not None):
            out.append(self._take_pending())
        if delta.kind == "content":
            out.append({"content": delta.text})
        elif delta.kind == "reasoning":
            out.append({"reasoning_content": delta.text})
        elif delta.name is not None:
            call = {
                "index": delta.index,
                "id": self._new_id(),
                "type": "function",
                "function": {"name": delta.name, "arguments": delta.text},
            }
            if self._tool_stream:
                out.append({"tool_calls": [call]})
            else:
                self._pending = call
        elif self._pending is not None:
            self._pending["function"]["arguments"] += delta.text
        elif delta.text:
            call = {"index": delta.index, "function": {"arguments": delta.text}}
            out.append({"tool_calls": [call]})
        return out

    def flush(self) -> list[dict[str, Any]]:
        return [self._take_pending()] if self._pending is not None else []

    def _take_pending(self) -> dict[str, Any]:
        call, self._pending = self._pending, None
        return {"tool_calls": [call]}


def message_body(deltas: Iterable[Delta], new_id: Callable[[], str]) -> dict[str, Any]:
    """The non-stream ``message``: content (null when the message only calls tools),
    reasoning_content when there is reasoning, tool_calls when there are calls."""
    parsed = collect(deltas)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": parsed.content if parsed.content or parsed.tool_calls else "",
    }
    if parsed.reasoning_content:
        message["reasoning_content"] = parsed.reasoning_content
    if parsed.tool_calls:
        message["tool_calls"] = [
            {
                "id": new_id(),
                "type": "function",
                "index": call.index,
                "function": {"name": call.name, "arguments": call.arguments},
            }
            for call in parsed.tool_calls
        ]
    return message
