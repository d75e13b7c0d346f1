"""What the serving layer does to a generation beyond running it: close the thinking
block at a budget, put a grammar on a strict tool call the model opens by itself
(``tool_choice: "auto"``), stop after the first call (``parallel_tool_calls: false``).

``Steering`` is decided once per request (``steering_for``); ``Steerer`` follows the
output parser's state token by token and switches legs (legs.py) when it must. See
docs/glm-format.md, "Steering a generation".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from glmserve.chat.output import Delta, SteerableParser
from glmserve.serving.run.legs import Legs

__all__ = ["ThinkingCut", "Steering", "Steerer"]


@dataclass(frozen=True)
class ThinkingCut:
    """Close the thinking block once it holds ``at`` tokens."""

    at: int
    closing: tuple[int, ...]
    """The closing sentence's tokens (reasoning, counted as such)."""
    end: tuple[int, ...]
    """The family's end-of-thinking tokens."""
    text: str
    """The inserted text: the closing sentence, then the end-of-thinking tag."""
    grammar: str | None = None
    """What the output must follow after the block (a forced call or JSON answer)."""

    @property
    def tokens(self) -> tuple[int, ...]:
        return (*self.closing, *self.end)


@dataclass(frozen=True)
class Steering:
    cut: ThinkingCut | None = None
    call_rest: Callable[[str], str | None] | None = field(default=None, compare=False)
    """The grammar of the rest of a call opened under "auto", given the part of its
    name already written (strict tools are declared); None: calls are not steered."""
    single_call: bool = False
    """``parallel_tool_calls: false``: the output ends after its first call."""

    @property
    def active(self) -> bool:
        return self.cut is not None or self.call_rest is not None or self.single_call


class Steerer:
    """Follows one completion's output and steers its legs; counts reasoning tokens."""

    def __init__(self, steering: Steering, parser: SteerableParser | None, legs: Legs) -> None:
        self._steering = steering
        self._parser = parser
        self._legs = legs
        self._cut = steering.cut if parser is not None else None
        self._constrained = False
        self.reasoning_tokens = 0

    def before(self) -> list[Delta]:
        """Deltas of what was inserted before the first token (a budget of 0)."""
        cut = self._cut
        if cut is None or self._parser is None or cut.at > 0 or not self._parser.in_reasoning:
            return []
        return self._inserted(cut)

    @staticmethod
    def starts_closed(steering: Steering, parser: object) -> bool:
        """The thinking block is closed before the model writes anything."""
        cut = steering.cut
        return (
            cut is not None
            and cut.at <= 0
            and isinstance(parser, SteerableParser)
            and parser.in_reasoning
        )

    def feed(self, text: str, feed: Callable[[str], list[Delta]]) -> list[Delta]:
        """Feed one token's text; count it as reasoning if it is inside the block."""
        parser = self._parser
        was = parser is not None and parser.in_reasoning
        deltas = feed(text)
        if was and parser is not None and parser.in_reasoning:
            self.reasoning_tokens += 1
        return deltas

    async def after_token(self) -> list[Delta]:
        """Steer after a token: maybe switch legs; deltas of any inserted text."""
        parser = self._parser
        if parser is None:
            return []
        cut = self._cut
        if cut is not None and parser.in_reasoning and self.reasoning_tokens >= cut.at:
            if await self._legs.switch(cut.tokens, cut.grammar):
                return self._inserted(cut)
            self._cut = None  # no room left to close it: the leg goes on
            return []
        steering = self._steering
        opened = parser.call_opened
        if steering.call_rest is not None and not self._constrained and opened is not None:
            self._constrained = True  # one try: a later leg's calls are under its grammar
            grammar = steering.call_rest(opened)
            if grammar is not None:
                await self._legs.switch((), grammar)
        elif steering.single_call and parser.closed_calls >= 1:
            self._legs.stop()
        return []

    def _inserted(self, cut: ThinkingCut) -> list[Delta]:
        self._cut = None
        self.reasoning_tokens += len(cut.closing)
        assert self._parser is not None
        return self._parser.feed(cut.text)
