"""The guard-model back end: a served chat model asked whether a conversation is safe.

The guard model is one of the server's chat models (embedded or remote), brought by the
user; ``Generate`` is how the serving layer lets this layer ask it: messages in, the
reply's text out. By default the conversation goes to the guard as it is, and the
guard's own chat template frames it (Llama Guard and Qwen3Guard templates do); with a
``prompt`` (a text holding ``{conversation}``), the conversation is written into that
one user message instead (ShieldGemma-style prompts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from glmserve.errors import EngineFailure
from glmserve.safety.verdict import UnreadableReply, Verdict, parse_guard_reply

__all__ = ["Generate", "GuardModel", "PLACEHOLDER"]

Generate = Callable[[list[dict[str, Any]]], Awaitable[str]]
"""Ask the guard model: chat messages in, its reply's text out."""

PLACEHOLDER = "{conversation}"


class GuardModel:
    def __init__(
        self, generate: Generate, *, prompt: str | None = None, max_chars: int = 8000
    ) -> None:
        if prompt is not None and PLACEHOLDER not in prompt:
            raise ValueError(f"a guard prompt must hold {PLACEHOLDER}")
        self._generate = generate
        self._prompt = prompt
        self._max_chars = max_chars

    async def check(self, turns: Sequence[tuple[str, str]]) -> Verdict:
        """The guard's verdict on these (role, text) turns, the last one judged; a reply
        that cannot be read is a failed check (1234), never "safe"."""
        reply = await self._generate(self.messages(turns))
        try:
            return parse_guard_reply(reply)
        except UnreadableReply as exc:
            raise EngineFailure(
                f"Network error: the content-safety check failed ({exc})."
            ) from None

    def messages(self, turns: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        kept = _last_chars(turns, self._max_chars)
        if self._prompt is None:
            return [{"role": role, "content": text} for role, text in kept]
        conversation = "\n\n".join(f"{role.capitalize()}: {text}" for role, text in kept)
        return [{"role": "user", "content": self._prompt.replace(PLACEHOLDER, conversation)}]


def _last_chars(turns: Sequence[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """The last turns that fit in ``limit`` characters (the last one cut to its end),
    so a long history never overflows the guard's context window."""
    kept: list[tuple[str, str]] = []
    left = limit
    for role, text in reversed(turns):
        if left <= 0:
            break
        kept.append((role, text[-left:]))
        left -= len(text)
    kept.reverse()
    while kept and kept[0][0] != "user":  # guard templates want a user turn first
        kept.pop(0)
    return kept
