"""GLM-4.5, GLM-4.5-Air and GLM-4.6: the conversation format's output side.

With thinking on the prompt ends at ``<|assistant|>`` and the model opens
``\n<think>`` itself; with thinking off the template prefills ``\n<think></think>``
(and appends ``/nothink`` to user turns). Calls put each tag on its own line:
``<tool_call>NAME\n<arg_key>K</arg_key>\n<arg_value>V</arg_value>\n</tool_call>``.
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

FAMILY = "glm45"

_FAMILY = GlmFamily(
    name=FAMILY,
    layout=grammar.XmlLayout(after_name="\n", between="\n"),
    not_thinking="optional",
    generation_prompt="<|assistant|>",
)

starts_in_reasoning = _FAMILY.starts_in_reasoning
thinking_before = _FAMILY.thinking_before
parser = _FAMILY.parser
parse = _FAMILY.parse
call_grammar = _FAMILY.call_grammar
answer_grammar = _FAMILY.answer_grammar
