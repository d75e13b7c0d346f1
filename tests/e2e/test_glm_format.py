"""GLM's conversation format end to end: HTTP, zai-sdk, the real engine, the real parser.

The model is the scripted GLM model (tests/support/scripted_glm.py): a tiny GGUF with
the official GLM-4.7 template and GLM's special tokens whose weights make the real
engine write recorded GLM-4.7 outputs, the one chosen by the prompt. Round one:
thinking on, a tool call streamed with tool_stream. Round two: the tool result sent back
with the reasoning (its ``<tool_response>`` selects the final answer), preserved
thinking (clear_thinking false), and the prompt the engine saw checked against the
official template's rendering.
"""

from __future__ import annotations

import json

from openai import OpenAI
from zai import ZaiClient

from tests.e2e.conftest import GlmServer
from tests.support.scripted_glm import Script

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
REASONING = "The user wants the weather in Paris. I will call the tool."
ROUND_ONE = (
    f"{REASONING}</think><tool_call>get_weather<arg_key>city</arg_key>"
    '<arg_value>Paris, "Île-de-France"</arg_value><arg_key>days</arg_key>'
    "<arg_value>2</arg_value></tool_call><|observation|>"
)
ROUND_TWO = "It is 21 degrees.</think>It is 21 °C in Paris.<|user|>"
ARGUMENTS = '{"city": "Paris, \\"Île-de-France\\"", "days": 2}'
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}


def test_thinking_tool_stream_round_then_preserved_reasoning_round(glm: GlmServer) -> None:
    server, prompts = glm([Script(ROUND_ONE), Script(ROUND_TWO, when="<tool_response>")])
    client = ZaiClient(api_key="test-id.test-secret", base_url=server.zai_base)

    chunks = list(
        client.chat.completions.create(
            model="glm-4.7", messages=[QUESTION], tools=[WEATHER], stream=True, tool_stream=True
        )
    )
    deltas = [c.choices[0].delta for c in chunks]
    reasoning = "".join(d.reasoning_content or "" for d in deltas)
    assert reasoning == REASONING
    assert "".join(d.content or "" for d in deltas) == ""
    calls = [tc for d in deltas for tc in (d.tool_calls or [])]
    assert calls[0].id and calls[0].function.name == "get_weather"
    assert [tc.function.name for tc in calls[1:] if tc.function.name] == []
    assert {tc.index for tc in calls} == {0}
    pieces = [tc.function.arguments or "" for tc in calls]
    assert len([p for p in pieces if p]) > 2  # arguments arrived incrementally
    assert "".join(pieces) == ARGUMENTS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"

    second = client.chat.completions.create(
        model="glm-4.7",
        messages=[
            QUESTION,
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": reasoning,
                "tool_calls": [
                    {
                        "id": calls[0].id,
                        "type": "function",
                        "index": 0,
                        "function": {"name": "get_weather", "arguments": "".join(pieces)},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": calls[0].id, "content": '{"temp": 21}'},
        ],
        tools=[WEATHER],
        thinking={"type": "enabled", "clear_thinking": False},
    )
    message = second.choices[0].message
    assert message.content == "It is 21 °C in Paris."
    assert message.reasoning_content == "It is 21 degrees."
    assert second.choices[0].finish_reason == "stop"

    seen = [json.loads(line) for line in prompts.read_text().splitlines()]
    assert len(seen) == 2
    tools_json = json.dumps(WEATHER, ensure_ascii=False)
    assert seen[1].startswith("[gMASK]<sop><|system|>\n# Tools\n\n")
    assert f"<tools>\n{tools_json}\n</tools>" in seen[1]
    assert seen[1].endswith(
        "<|user|>What is the weather in Paris?<|assistant|>"
        f"<think>{REASONING}</think><tool_call>get_weather"
        '<arg_key>city</arg_key><arg_value>Paris, "Île-de-France"</arg_value>'
        "<arg_key>days</arg_key><arg_value>2</arg_value></tool_call>"
        '<|observation|><tool_response>{"temp": 21}</tool_response><|assistant|><think>'
    )


def test_openai_stream_without_tool_stream_gets_each_call_whole(glm: GlmServer) -> None:
    two_calls = (
        "Two lookups.</think>Checking.<tool_call>get_weather<arg_key>city</arg_key>"
        "<arg_value>Oslo</arg_value></tool_call><tool_call>get_weather<arg_key>city"
        "</arg_key><arg_value>Rome</arg_value><arg_key>days</arg_key><arg_value>3"
        "</arg_value></tool_call><|observation|>"
    )
    server, _ = glm([Script(two_calls)])
    client = OpenAI(api_key="any", base_url=server.zai_base)
    chunks = list(
        client.chat.completions.create(
            model="glm-4.7",
            messages=[QUESTION],
            tools=[WEATHER],
            stream=True,  # type: ignore[list-item]
        )
    )
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert [(tc.index, tc.function.name, tc.function.arguments) for tc in calls] == [  # type: ignore[union-attr]
        (0, "get_weather", '{"city": "Oslo"}'),
        (1, "get_weather", '{"city": "Rome", "days": 3}'),
    ]
    assert all(tc.id for tc in calls)
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert content == "Checking."
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
