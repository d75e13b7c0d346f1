"""Turning raw completion text into message parts, streaming and whole.

Each model family has an output parser with the same two methods: ``feed`` takes the
next piece of raw text and returns the message deltas it completes; ``finish`` returns
what is left when generation ends. Families without a reasoning or tool-call syntax use
``PlainParser``: every character is content.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

__all__ = [
    "Delta",
    "OutputParser",
    "SteerableParser",
    "PlainParser",
    "TrimmedParser",
    "ParsedCall",
    "ParsedMessage",
    "collect",
    "parse_all",
]


@dataclass(frozen=True)
class Delta:
    """A piece of the assistant message.

    ``content`` and ``reasoning`` deltas carry text. A ``tool_call`` delta carries a
    piece of the call's arguments JSON in ``text``; the first delta of each call also
    carries its ``name``, and ``index`` numbers the calls of the message in order.
    The ``text`` of a call's deltas, joined, is its whole ``arguments`` string.
    """

    kind: Literal["content", "reasoning", "tool_call"]
    text: str
    index: int = 0
    name: str | None = None


class OutputParser(Protocol):
    def feed(self, text: str) -> list[Delta]: ...

    def finish(self) -> list[Delta]: ...


@runtime_checkable
class SteerableParser(OutputParser, Protocol):
    """A parser of a format with a thinking block and tool calls of its own, which
    says where the output stands (the serving layer steers generation from it)."""

    @property
    def in_reasoning(self) -> bool: ...

    @property
    def call_opened(self) -> str | None: ...

    @property
    def closed_calls(self) -> int: ...


class PlainParser:
    """All output is content."""

    def feed(self, text: str) -> list[Delta]:
        return [Delta("content", text)] if text else []

    def finish(self) -> list[Delta]:
        return []


class TrimmedParser:
    """All output is content, without the whitespace a prompt format puts around it.

    Leading whitespace is dropped; trailing whitespace is held back until more text
    follows it, and dropped if none does.
    """

    def __init__(self) -> None:
        self._started = False
        self._held = ""

    def feed(self, text: str) -> list[Delta]:
        if not self._started:
            text = text.lstrip()
            self._started = bool(text)
        body = text.rstrip()
        if not body:
            self._held += text
            return []
        out = self._held + body
        self._held = text[len(body) :]
        return [Delta("content", out)]

    def finish(self) -> list[Delta]:
        return []


@dataclass(frozen=True)
class ParsedCall:
    index: int
    name: str
    arguments: str
    """The arguments as a JSON object text (what the API's ``arguments`` field holds)."""


@dataclass(frozen=True)
class ParsedMessage:
    """A whole assistant message: absent parts are None (and ``tool_calls`` empty)."""

    content: str | None
    reasoning_content: str | None
    tool_calls: tuple[ParsedCall, ...]


def collect(deltas: Iterable[Delta]) -> ParsedMessage:
    """Join a message's deltas into the whole message."""
    content: list[str] = []
    reasoning: list[str] = []
    names: dict[int, str] = {}
    arguments: dict[int, list[str]] = {}
    for d in deltas:
        if d.kind == "content":
            content.append(d.text)
        elif d.kind == "reasoning":
            reasoning.append(d.text)
        else:
            if d.name is not None:
                names[d.index] = d.name
            arguments.setdefault(d.index, []).append(d.text)
    calls = tuple(ParsedCall(i, names[i], "".join(arguments[i])) for i in sorted(names))
    return ParsedMessage("".join(content) or None, "".join(reasoning) or None, calls)


def parse_all(parser: OutputParser, text: str) -> ParsedMessage:
    """Parse a whole completion text with a fresh parser."""
    return collect([*parser.feed(text), *parser.finish()])
