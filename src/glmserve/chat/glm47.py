"""GLM-4.7 / GLM-4.7-Flash / GLM-5.x: the conversation format's output side.

The template prefills ``<|assistant|><think>`` when thinking is on (the output starts
with reasoning) and ``<|assistant|></think>`` when it is off. Calls are written on one
line: ``<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value></tool_call>``.
Every family module exports the same names: FAMILY, STOP, starts_in_reasoning,
thinking_before, parser, parse, call_grammar, answer_grammar.
"""

from __future__ import annotations

from glmserve.chat import grammar
from glmserve.chat.glm_family import STOP, GlmFamily

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

_FAMILY = GlmFamily(
    name=FAMILY,
    layout=grammar.XmlLayout(after_name="", between=""),
    not_thinking="none",
    generation_prompt="<think>",
)

starts_in_reasoning = _FAMILY.starts_in_reasoning
thinking_before = _FAMILY.thinking_before
parser = _FAMILY.parser
parse = _FAMILY.parse
call_grammar = _FAMILY.call_grammar
answer_grammar = _FAMILY.answer_grammar
