"""GLM's conversation format, output side: one ``GlmFamily``, and the GLM-4.5 and
GLM-4.7 layouts as data.

- GLM-4.5, GLM-4.5-Air and GLM-4.6 (``GLM45``): with thinking on the prompt ends at
  ``<|assistant|>`` and the model opens ``\\n<think>`` itself; with thinking off the
  template prefills ``\\n<think></think>`` (and appends ``/nothink`` to user turns).
  Calls put each tag on its own line:
  ``<tool_call>NAME\\n<arg_key>K</arg_key>\\n<arg_value>V</arg_value>\\n</tool_call>``.
- GLM-4.7, GLM-4.7-Flash and GLM-5.x (``GLM47``): the template prefills
  ``<|assistant|><think>`` when thinking is on (the output starts with reasoning) and
  ``<|assistant|></think>`` when it is off. Calls are written on one line:
  ``<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value></tool_call>``.

``glmserve.chat.glm45`` and ``glmserve.chat.glm47`` are these two objects (see
docs/glm-format.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from glmserve.chat import grammar
from glmserve.chat.glm_stream import GlmStreamParser
from glmserve.chat.output import ParsedMessage, parse_all
from glmserve.chat.schema import ToolSpecs, tool_specs

__all__ = ["GlmFamily", "GLM45", "GLM47", "STOP"]

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
    stop: tuple[str, ...] = STOP
    native_tools: bool = True
    end_thinking: str | None = "</think>"
    """The text that closes the thinking block (inserted to end it at a budget)."""

    def starts_in_reasoning(self, prompt: str) -> bool:
        """True if the rendered prompt leaves the model inside ``<think>``."""
        return prompt.rstrip().endswith("<think>")

    def thinking_before(self, prompt: str) -> grammar.Thinking:
        """What the model may write before a constrained call or answer."""
        return "open" if self.starts_in_reasoning(prompt) else self.not_thinking

    def parser(
        self,
        tools: Sequence[Mapping[str, Any]] | ToolSpecs | None = None,
        *,
        prompt: str | None = None,
        trim: bool = False,
        json_call: bool = False,
    ) -> GlmStreamParser:
        """A streaming parser for one completion of a prompt ending as ``prompt`` ends
        (only the end matters; the default is the thinking-on generation prompt). GLM
        output is parsed by GLM's format whatever the prompt format, so ``trim`` and
        ``json_call`` do not apply."""
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
        self,
        tools: Sequence[Mapping[str, Any]],
        *,
        name: str | None,
        prompt: str,
        thinking: grammar.Thinking | None = None,
    ) -> str:
        """GBNF forcing one call (to ``name``, or to any tool) with schema-valid
        arguments, after the reasoning when the prompt leaves the model thinking
        (``thinking`` overrides what the prompt says)."""
        before = self.thinking_before(prompt) if thinking is None else thinking
        return grammar.xml_call(tool_specs(tools), name=name, layout=self.layout, thinking=before)

    def answer_grammar(
        self,
        schema: Mapping[str, Any] | None,
        *,
        prompt: str,
        thinking: grammar.Thinking | None = None,
    ) -> str:
        """GBNF forcing a JSON answer (matching ``schema`` if given) after the reasoning."""
        before = self.thinking_before(prompt) if thinking is None else thinking
        return grammar.json_answer(schema, thinking=before)

    def call_rest_grammar(
        self,
        tools: Sequence[Mapping[str, Any]],
        *,
        strict: Collection[str],
        parallel: bool,
        consumed: str = "",
    ) -> str | None:
        """GBNF for the rest of a call the model opened under ``tool_choice: "auto"``:
        the tools in ``strict`` get schema-valid arguments (grammar.xml_call_rest)."""
        return grammar.xml_call_rest(
            tool_specs(tools), strict=strict, layout=self.layout, parallel=parallel,
            consumed=consumed,
        )  # fmt: skip


GLM45 = GlmFamily(
    name="glm45",
    layout=grammar.XmlLayout(after_name="\n", between="\n"),
    not_thinking="optional",
    generation_prompt="<|assistant|>",
)
GLM47 = GlmFamily(
    name="glm47",
    layout=grammar.XmlLayout(after_name="", between=""),
    not_thinking="none",
    generation_prompt="<think>",
)
