"""What GLM-4.5/4.6 and GLM-4.7 share on the output side, parameterised by their layout.

The family modules (glm45.py, glm47.py) each build one ``GlmFamily`` and export its
methods under the same names, so either module can be used on its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glmserve.chat import grammar
from glmserve.chat.glm_stream import GlmStreamParser
from glmserve.chat.output import ParsedMessage, parse_all
from glmserve.chat.schema import tool_specs

__all__ = ["GlmFamily", "STOP"]

STOP = ("<|user|>", "<|observation|>", "<|endoftext|>")
"""Strings that end the assistant's turn (they are special tokens in GLM vocabularies)."""


@dataclass(frozen=True)
class GlmFamily:
    name: str
    layout: grammar.XmlLayout
    """Separators of a tool call: after the name, between tags."""
    not_thinking: grammar.Thinking
    """What may precede a constrained call when the prompt does not leave the model
    inside ``<think>``: "optional" (4.5/4.6 decide for themselves) or "none"."""
    generation_prompt: str
    """How the default (thinking-on) generation prompt ends."""

    def starts_in_reasoning(self, prompt: str) -> bool:
        """True if the rendered prompt leaves the model inside ``<think>``."""
        return prompt.rstrip().endswith("<think>")

    def thinking_before(self, prompt: str) -> grammar.Thinking:
        """What the model may write before a constrained call or answer."""
        return "open" if self.starts_in_reasoning(prompt) else self.not_thinking

    def parser(
        self, tools: Sequence[Mapping[str, Any]] | None = None, *, prompt: str | None = None
    ) -> GlmStreamParser:
        """A streaming parser for one completion of a prompt ending as ``prompt`` ends
        (only the end matters; the default is the thinking-on generation prompt)."""
        end = self.generation_prompt if prompt is None else prompt
        return GlmStreamParser(tool_specs(tools), reasoning=self.starts_in_reasoning(end))

    def parse(
        self,
        text: str,
        tools: Sequence[Mapping[str, Any]] | None = None,
        *,
        prompt: str | None = None,
    ) -> ParsedMessage:
        """The whole message in a complete completion text."""
        return parse_all(self.parser(tools, prompt=prompt), text)

    def call_grammar(
        self, tools: Sequence[Mapping[str, Any]], *, name: str | None, prompt: str
    ) -> str:
        """GBNF forcing one call (to ``name``, or to any tool) with schema-valid
        arguments, after the reasoning when the prompt leaves the model thinking."""
        return grammar.xml_call(
            tool_specs(tools), name=name, layout=self.layout, thinking=self.thinking_before(prompt)
        )

    def answer_grammar(self, schema: Mapping[str, Any] | None, *, prompt: str) -> str:
        """GBNF forcing a JSON answer (matching ``schema`` if given) after the reasoning."""
        return grammar.json_answer(schema, thinking=self.thinking_before(prompt))
