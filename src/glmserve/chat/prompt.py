"""Rendering a conversation into the model's prompt, with plain arguments.

The messages are already normalized for templates (``protocol.chat.template_messages``);
thinking models get Z.AI's flags as the template variables GLM templates read:
``enable_thinking`` and ``clear_thinking`` (docs/glm-format.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glmserve.chat.template import ChatTemplate

__all__ = ["ThinkingFlags", "render_prompt"]


@dataclass(frozen=True)
class ThinkingFlags:
    enable_thinking: bool
    """Reason before answering."""
    clear_thinking: bool
    """Drop the reasoning of past assistant turns from the prompt."""
    reasoning_effort: str | None = None
    """The request's ``reasoning_effort``, as the template variable of that name (a
    template that writes an effort line reads it; others ignore it)."""


def render_prompt(
    template: ChatTemplate,
    messages: Sequence[Mapping[str, Any]],
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    thinking: ThinkingFlags | None = None,
) -> str:
    """The prompt; ``thinking`` is None for models without a thinking mode (their
    templates get no flags). Raises template.TemplateError if the template refuses."""
    flags: dict[str, Any] = {}
    if thinking is not None:
        flags = {
            "enable_thinking": thinking.enable_thinking,
            "clear_thinking": thinking.clear_thinking,
        }
        if thinking.reasoning_effort is not None:
            flags["reasoning_effort"] = thinking.reasoning_effort
    return template.render(list(messages), tools=list(tools) if tools else None, **flags)
