"""GLM-4.7 / GLM-4.7-Flash / GLM-5.x: the conversation format's output side.

The template prefills ``<|assistant|><think>`` when thinking is on (the output starts
with reasoning) and ``<|assistant|></think>`` when it is off. Calls are written on one
line: ``<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value></tool_call>``.
Every family module exports the same names: FAMILY, STOP, starts_in_reasoning,
thinking_before, parser, parse, call_grammar, answer_grammar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from glmserve.chat import grammar
from glmserve.chat.glm_stream import GlmStreamParser
from glmserve.chat.output import ParsedMessage, parse_all
from glmserve.chat.schema import tool_specs

__all__ = [
    "FAMILY",
    "STOP",
    "starts_in_reasoning",
    "thinking_before",
    "parser",
    "parse",
    "call_grammar",
    "answer_grammar",
]

FAMILY = "glm47"
STOP = ("<|user|>", "<|observation|>", "<|endoftext|>")
"""Strings that end the assistant's turn (they are special tokens in GLM vocabularies)."""

_LAYOUT = grammar.XmlLayout(after_name="", between="")


def starts_in_reasoning(prompt: str) -> bool:
    """True if the rendered prompt leaves the model inside ``<think>``."""
    return prompt.rstrip().endswith("<think>")


def thinking_before(prompt: str) -> grammar.Thinking:
    """What the model may write before a constrained call or answer."""
    return "open" if starts_in_reasoning(prompt) else "none"


def parser(
    tools: Sequence[Mapping[str, Any]] | None = None, *, prompt: str = "<think>"
) -> GlmStreamParser:
    """A streaming parser for one completion of a prompt ending as ``prompt`` ends
    (only the end matters; the default is the thinking-on generation prompt)."""
    return GlmStreamParser(tool_specs(tools), reasoning=starts_in_reasoning(prompt))


def parse(
    text: str, tools: Sequence[Mapping[str, Any]] | None = None, *, prompt: str = "<think>"
) -> ParsedMessage:
    """The whole message in a complete completion text."""
    return parse_all(parser(tools, prompt=prompt), text)


def call_grammar(tools: Sequence[Mapping[str, Any]], *, name: str | None, prompt: str) -> str:
    """GBNF forcing one call (to ``name``, or to any tool) with schema-valid arguments,
    after the reasoning when the prompt leaves the model thinking."""
    return grammar.xml_call(
        tool_specs(tools), name=name, layout=_LAYOUT, thinking=thinking_before(prompt)
    )


def answer_grammar(schema: Mapping[str, Any] | None, *, prompt: str) -> str:
    """GBNF forcing a JSON answer (matching ``schema`` if given) after the reasoning."""
    return grammar.json_answer(schema, thinking=thinking_before(prompt))
