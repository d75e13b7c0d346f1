"""Rendering conformance: glmserve's GLM prompts equal the official templates' output.

For every conversation of the corpus and each of GLM-4.5, 4.6 and 4.7, the prompt
glmserve renders for a Z.AI request (parsed, normalized, flags mapped) must equal, byte
for byte, the official template rendered with plain jinja2 the way transformers renders
it (``ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)``, its
``tojson``), given the client's messages with only the normalization transformers-based
servers apply: ``arguments`` strings parsed to objects, ``content: null`` as "",
vLLM-style ``reasoning`` as ``reasoning_content``; and Z.AI's flags as the template
variables (thinking.type -> enable_thinking, clear_thinking: true by default, false on
the Coding endpoint).
"""

from __future__ import annotations

import copy
import itertools
import json
from typing import Any

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from glmserve.catalog import builtin_spec
from glmserve.chat.template import ChatTemplate
from glmserve.config import HttpSettings
from glmserve.protocol.chat import function_tools, parse_chat_request
from glmserve.serving.service import render_request as render_prompt
from tests.support.shared import shared_path

DEPTH = HttpSettings.max_json_depth  # the default [http] nesting limit

TEMPLATES = shared_path("glm", "templates")
MODELS = {"glm-4.5": "glm-4.5.jinja", "glm-4.6": "glm-4.6.jinja", "glm-4.7": "glm-4.7.jinja"}

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather of a city — 天气",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
CLOCK = {"type": "function", "function": {"name": "now", "parameters": {"type": "object"}}}


def _call(i: int, name: str, args: Any, *, as_string: bool = True, index: bool = False) -> dict:
    call: dict[str, Any] = {
        "id": f"call_{i}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(args) if as_string else args},
    }
    if index:
        call["index"] = i  # what zai-sdk puts back when a message is re-sent
    return call


SYSTEM = {"role": "system", "content": "You are terse."}
ASK = {"role": "user", "content": "Weather in Paris?"}
ASK_LIST = {
    "role": "user",
    "content": [{"type": "text", "text": "Weather "}, {"type": "text", "text": "in Oslo?"}],
}
CALLING = {
    "role": "assistant",
    "content": None,
    "reasoning_content": "Need the tool.",
    "tool_calls": [_call(0, "get_weather", {"city": "Paris", "days": 2})],
}
CALLING_TWO = {
    "role": "assistant",
    "content": "Checking both.",
    "reasoning": "Two cities.",
    "tool_calls": [
        _call(0, "get_weather", {"city": "Paris"}, index=True),
        _call(1, "now", {}, as_string=False, index=True),
    ],
}
RESULT = {"role": "tool", "tool_call_id": "call_0", "content": '{"temp": 21}'}
RESULT_2 = {"role": "tool", "tool_call_id": "call_1", "content": "12:00"}
ANSWER = {"role": "assistant", "content": "It is 21 °C.", "reasoning_content": "Got it."}
ANSWER_THINK_IN_CONTENT = {"role": "assistant", "content": "<think>Inline plan.</think>\nSunny."}
ANSWER_LIST = {"role": "assistant", "content": [{"type": "text", "text": "Sunny and 21."}]}
FOLLOW = {"role": "user", "content": "And tomorrow? /nothink"}

CONVERSATIONS: list[tuple[list[dict[str, Any]], bool]] = [
    ([ASK], False),
    ([SYSTEM, ASK], False),
    ([ASK_LIST], False),
    ([SYSTEM, ASK], True),
    ([ASK, CALLING, RESULT], True),
    ([SYSTEM, ASK, CALLING, RESULT], True),
    ([ASK, CALLING_TWO, RESULT, RESULT_2], True),
    ([ASK, CALLING, RESULT, ANSWER, FOLLOW], True),
    ([ASK, ANSWER, FOLLOW], False),
    ([ASK, ANSWER_THINK_IN_CONTENT, FOLLOW], False),
    ([ASK, ANSWER_LIST, FOLLOW], False),
    ([SYSTEM, ASK, CALLING_TWO, RESULT, RESULT_2, ANSWER, FOLLOW, CALLING, RESULT], True),
    ([ASK, CALLING, RESULT, CALLING_TWO, RESULT, RESULT_2], True),
]
THINKING = [
    None,
    {"type": "enabled"},
    {"type": "disabled"},
    {"type": "enabled", "clear_thinking": False},
]
CASES = [
    (i, thinking, coding)
    for i, (thinking, coding) in itertools.product(
        range(len(CONVERSATIONS)), [(t, False) for t in THINKING] + [(None, True)]
    )
]
assert len(CASES) >= 50


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: Any = None,
    separators: Any = None,
    sort_keys: bool = False,
) -> str:
    # transformers' tojson filter
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _reference(
    source: str, messages: list[dict[str, Any]], tools: list | None, flags: dict[str, Any]
) -> str:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.filters["tojson"] = _tojson
    normalized = []
    for m in copy.deepcopy(messages):
        if m.get("content") is None:
            m["content"] = ""
        if "reasoning" in m:
            m["reasoning_content"] = m.pop("reasoning")
        for call in m.get("tool_calls") or []:
            if isinstance(call["function"]["arguments"], str):
                call["function"]["arguments"] = json.loads(call["function"]["arguments"])
        normalized.append(m)
    return env.from_string(source).render(
        messages=normalized, tools=tools, add_generation_prompt=True, **flags
    )


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize(("case", "thinking", "coding"), CASES)
def test_prompt_equals_the_official_template(
    model: str, case: int, thinking: dict[str, Any] | None, coding: bool
) -> None:
    messages, with_tools = CONVERSATIONS[case]
    spec = builtin_spec(model)
    assert spec is not None
    source = (TEMPLATES / MODELS[model]).read_text()
    body: dict[str, Any] = {"model": model, "messages": messages}
    if with_tools:
        body["tools"] = [WEATHER, CLOCK]
    if thinking is not None:
        body["thinking"] = thinking
    request = parse_chat_request(json.dumps(body).encode(), max_depth=DEPTH)
    ours = render_prompt(
        ChatTemplate(source), spec, request, function_tools(request), coding=coding
    )
    flags = {
        "enable_thinking": (thinking or {}).get("type", "enabled") == "enabled",
        "clear_thinking": (thinking or {}).get("clear_thinking", not coding),
    }
    expected = _reference(source, messages, body.get("tools"), flags)
    assert ours == expected


def test_the_flags_change_the_prompt() -> None:
    # The corpus would pass vacuously if flags never reached the template: they do.
    source = (TEMPLATES / "glm-4.7.jinja").read_text()
    messages = [ASK, CALLING, RESULT, ANSWER, FOLLOW]
    spec = builtin_spec("glm-4.7")
    assert spec is not None
    prompts = set()
    for thinking in THINKING:
        body = {"model": "glm-4.7", "messages": messages, "thinking": thinking}
        request = parse_chat_request(json.dumps(body).encode(), max_depth=DEPTH)
        prompts.add(render_prompt(ChatTemplate(source), spec, request, []))
    assert len(prompts) == 3  # on, off, on with preserved thinking
    kept = render_prompt(
        ChatTemplate(source),
        spec,
        parse_chat_request(
            json.dumps({"model": "glm-4.7", "messages": messages}).encode(), max_depth=DEPTH
        ),
        [],
        coding=True,
    )
    assert "<think>Need the tool.</think>" in kept  # preserved on the Coding endpoint
    dashscope = parse_chat_request(
        json.dumps({"model": "glm-4.7", "messages": messages, "enable_thinking": False}).encode(),
        max_depth=DEPTH,
    )
    disabled = parse_chat_request(
        json.dumps(
            {"model": "glm-4.7", "messages": messages, "thinking": {"type": "disabled"}}
        ).encode(),
        max_depth=DEPTH,
    )
    assert render_prompt(ChatTemplate(source), spec, dashscope, []) == render_prompt(
        ChatTemplate(source), spec, disabled, []
    )
    assert render_prompt(ChatTemplate(source), spec, dashscope, []).endswith(
        "<|assistant|></think>"
    )
