"""The conversation a terminal chat keeps, and the request body it sends."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["Conversation", "load_tools"]


@dataclass
class Conversation:
    model: str
    system: str | None = None
    thinking: bool = True
    keep_reasoning: bool = True
    """Preserved thinking: past answers' reasoning is sent back and the request says
    ``clear_thinking: false``, so models whose template keeps it see it (GLM-4.7 and
    later; docs/glm-format.md). Off: ``clear_thinking: true``; the reasoning is still
    sent back, as Z.AI asks, and the template drops it."""
    tools: list[dict[str, Any]] | None = None
    messages: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        system = [{"role": "system", "content": self.system}] if self.system else []
        body: dict[str, Any] = {
            "model": self.model,
            "messages": system + self.messages,
            "thinking": {
                "type": "enabled" if self.thinking else "disabled",
                "clear_thinking": not self.keep_reasoning,
            },
        }
        if self.tools:
            # calls build up on screen as they are written; models without tool_stream
            # ignore it (docs/api.md)
            body["tools"] = self.tools
            body["tool_stream"] = True
        return body

    def pending_calls(self) -> list[dict[str, Any]]:
        """The last answer's tool calls that have no result yet."""
        answered: set[str] = set()
        for message in reversed(self.messages):
            if message["role"] == "tool":
                answered.add(str(message.get("tool_call_id")))
                continue
            if message["role"] == "assistant":
                calls = message.get("tool_calls") or []
                return [c for c in calls if c["id"] not in answered]
            return []
        return []

    def transcript(self, base_url: str) -> dict[str, Any]:
        return {
            "saved_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "base_url": base_url,
            "model": self.model,
            "thinking": {"type": "enabled" if self.thinking else "disabled",
                         "clear_thinking": not self.keep_reasoning},
            "tools": self.tools or [],
            "messages": self.body()["messages"],
        }  # fmt: skip


def load_tools(path: str) -> list[dict[str, Any]]:
    """Tools from a JSON file: a list of Z.AI tool objects (``{"type": "function", ...}``)
    or one such object."""
    try:
        data = json.loads(Path(path).expanduser().read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read tools from {path}: {exc}") from None
    tools = data if isinstance(data, list) else [data]
    for tool in tools:
        if not isinstance(tool, dict) or "type" not in tool:
            raise ValueError(f"{path}: each tool is an object with a 'type' (e.g. 'function')")
    return tools
