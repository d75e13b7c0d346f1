"""Thinking budgets resolved against the catalog; the reasoning-effort template
variable; the grammars a steered generation switches to (they must compile in
llama.cpp). The steering itself runs end to end in tests/e2e/test_thinking_budget.py
and tests/e2e/test_strict_auto_tools.py."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from llama_cpp.llama_grammar import LlamaGrammar

from glmserve.catalog import ThinkingBudgets, builtin_spec
from glmserve.chat import glm45, glm47
from glmserve.chat.template import ChatTemplate
from glmserve.config import HttpSettings
from glmserve.protocol.chat import function_tools, parse_chat_request
from glmserve.serving.prepare.sampling import thinking_budget
from glmserve.serving.prepare.steering_plan import strict_tools
from glmserve.serving.service import render_request

DEPTH = HttpSettings.max_json_depth  # the default [http] nesting limit

USER = [{"role": "user", "content": "Hi"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    },
    {"type": "function", "function": {"name": "get_time", "parameters": {}}},
]


def _request(**fields: object):  # type: ignore[no-untyped-def]
    return parse_chat_request(
        json.dumps({"model": "glm-4.7", "messages": USER, **fields}).encode(), max_depth=DEPTH
    )


def test_budget_comes_from_the_request_then_the_effort_then_the_model() -> None:
    spec = builtin_spec("glm-4.7")
    assert spec is not None
    assert thinking_budget(spec, _request()) is None  # Z.AI: unlimited
    given = _request(thinking={"type": "enabled", "budget_tokens": 300}, reasoning_effort="low")
    assert thinking_budget(spec, given) == 300
    assert thinking_budget(spec, _request(reasoning_effort="low")) == 1024
    assert thinking_budget(spec, _request(reasoning_effort="high")) == 16384
    assert thinking_budget(spec, _request(reasoning_effort="max")) is None
    assert thinking_budget(spec, _request(reasoning_effort="none")) is None  # thinking off
    off = _request(thinking={"type": "disabled", "budget_tokens": 300})
    assert thinking_budget(spec, off) is None
    defaulted = replace(spec, thinking_budgets=ThinkingBudgets(default=77))
    assert thinking_budget(defaulted, _request()) == 77
    gemma = builtin_spec("gemma-3-270m")
    assert gemma is not None
    assert thinking_budget(gemma, _request(thinking={"budget_tokens": 5})) is None


def test_a_budget_of_zero_or_less_is_refused() -> None:
    from glmserve.errors import InvalidField

    with pytest.raises(InvalidField):
        _request(thinking={"type": "enabled", "budget_tokens": 0})


def test_a_template_reading_reasoning_effort_gets_it() -> None:
    spec = builtin_spec("glm-5.1")
    assert spec is not None
    template = ChatTemplate(
        "{% if reasoning_effort is defined %}Reasoning Effort: {{ reasoning_effort }}\n"
        "{% endif %}{% for m in messages %}{{ m.content }}{% endfor %}<think>"
    )
    request = _request(reasoning_effort="high")
    assert render_request(template, spec, request, []).startswith("Reasoning Effort: high\n")
    assert "Reasoning Effort" not in render_request(template, spec, _request(), [])


@pytest.mark.parametrize("family", [glm45, glm47])
@pytest.mark.parametrize("consumed", ["", "get_", "get_weather"])
@pytest.mark.parametrize("parallel", [True, False])
def test_rest_of_call_grammars_compile(family, consumed: str, parallel: bool) -> None:  # type: ignore[no-untyped-def]
    tools = function_tools(_request(tools=TOOLS))
    rest = family.call_rest_grammar(
        tools, strict=strict_tools(tools), parallel=parallel, consumed=consumed
    )
    assert rest is not None
    LlamaGrammar.from_string(rest, verbose=False)
    if consumed == "get_weather":
        assert "get_time" not in rest.split("\n")[0] or parallel


def test_no_rest_grammar_for_a_name_nobody_declared() -> None:
    tools = function_tools(_request(tools=TOOLS))
    assert (
        glm47.call_rest_grammar(tools, strict={"get_weather"}, parallel=True, consumed="x") is None
    )


def test_strict_tools_are_the_ones_marked_strict() -> None:
    assert strict_tools(function_tools(_request(tools=TOOLS))) == {"get_weather"}


@pytest.mark.parametrize("family", [glm45, glm47])
def test_after_thinking_grammars_have_no_thinking_part(family) -> None:  # type: ignore[no-untyped-def]
    tools = function_tools(_request(tools=TOOLS))
    after = family.call_grammar(tools, name="get_weather", prompt="<think>", thinking="none")
    assert after.split("\n")[0].startswith('root ::= "<tool_call>"')
    LlamaGrammar.from_string(after, verbose=False)
    answer = family.answer_grammar(None, prompt="<think>", thinking="none")
    assert "think" not in answer.split("\n")[0]
