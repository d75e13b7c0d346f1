"""Turning raw completion text into message parts, streaming and whole.

Each model family has an output parser with the same two methods: ``feed`` takes the
next piece of raw text and returns the message deltas it completes; ``finish`` returns
what is left when generation ends. Families without a reasoning or tool-call syntax use
``PlainParser``: every character is content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Delta", "OutputParser", "PlainParser", "TrimmedParser", "parser_for"]


@dataclass(frozen=True)
class Delta:
    kind: Literal["content", "reasoning"]
    text: str


class OutputParser(Protocol):
    def feed(self, text: str) -> list[Delta]: ...

    def finish(self) -> list[Delta]: ...


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


def parser_for(family: str, *, trim: bool = False) -> OutputParser:
    """The output parser of a model family (GLM families get theirs with the GLM format)."""
    return TrimmedParser() if trim else PlainParser()
