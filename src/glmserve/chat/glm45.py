"""GLM-4.5, GLM-4.5-Air and GLM-4.6: the conversation format's output side.

With thinking on the prompt ends at ``<|assistant|>`` and the model opens
``\n<think>`` itself; with thinking off the template prefills ``\n<think></think>``
(and appends ``/nothink`` to user turns). Calls put each tag on its own line:
``<tool_call>NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>\n</tool_call>``.
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

FAMILY = "glm45"
STOP = ("<|user|>", "<|observation|>", "<|endoftext|>")
"""Strings that end the assistant's turn (they are special tokens in GLM vocabularies)."""

_LAYOUT = grammar.XmlLayout(after_name="\n", between="\n")


def starts_in_reasoning(prompt: str) -> bool:
    """True if the rendered prompt leaves the model inside ``<think>``."""
    return prompt.rstrip().endswith("<think>")


def thinking_before(prompt: str) -> grammar.Thinking:
    """What the model may write before a constrained call or answer."""
    return "open" if starts_in_reasoning(prompt) else "optional"


def parser(
    tools: Sequence[Mapping[str, Any]] | None = None, *, prompt: str = "<|assistant|>"
) -> GlmStreamParser:
    """A streaming parser for one completion of a prompt ending as ``prompt`` ends
    (only the end matters; the default is the thinking-on generation prompt,
    after which the model decides itself whether to open a <think> block)."""
    return GlmStreamParser(tool_specs(tools), reasoning=starts_in_reasoning(prompt))


def parse(
    text: str, tools: Sequence[Mapping[str, Any]] | None = None, *, prompt: str = "<|assistant|>"
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
