"""Constrained decoding on the real engine: forced tool calls and JSON answers.

The default Gemma has no native tool format: tool_choice required/named makes a grammar
force a JSON call, which comes back as a tool call. The same weights served as glm-4.7
are forced into GLM's XML call format and parsed by the GLM parser. response_format
forces JSON. Every value must fit the schema.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from zai import ZaiClient
from zai.core import APIStatusError

from tests.conftest import Server

FORECAST = {
    "type": "function",
    "function": {
        "name": "forecast",
        "description": "Weather forecast",
        "parameters": {
            "type": "object",
            "properties": {
                "days": {"type": "integer"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["days", "unit"],
        },
    },
}
CLOCK = {"type": "function", "function": {"name": "clock", "parameters": {"type": "object"}}}
ASK = [{"role": "user", "content": "What will the weather be in Paris for the next 3 days?"}]


@pytest.fixture(scope="module")
def client(server: Server) -> ZaiClient:
    return ZaiClient(api_key="test-id.test-secret", base_url=server.zai_base)


def _fits(arguments: str) -> None:
    args = json.loads(arguments)
    assert set(args) == {"days", "unit"}
    assert isinstance(args["days"], int) and not isinstance(args["days"], bool)
    assert args["unit"] in ("celsius", "fahrenheit")


@pytest.mark.parametrize("model", ["gemma-3-270m", "glm-4.7"])
def test_named_tool_choice_forces_a_valid_call(client: ZaiClient, model: str) -> None:
    response = client.chat.completions.create(
        model=model,
        messages=ASK,
        tools=[FORECAST, CLOCK],
        tool_choice={"type": "function", "function": {"name": "forecast"}},
        do_sample=False,
        max_tokens=200,  # GLM's tags are many tokens in Gemma's vocabulary
        thinking={"type": "disabled"},
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "forecast" and call.id
    _fits(call.function.arguments)


def test_required_tool_choice_streams_the_call_whole_without_tool_stream(
    client: ZaiClient,
) -> None:
    chunks = list(
        client.chat.completions.create(
            model="gemma-3-270m",
            messages=ASK,
            tools=[FORECAST],
            tool_choice="required",
            do_sample=False,
            max_tokens=80,
            stream=True,
        )
    )
    calls = [tc for c in chunks for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1  # one chunk holds the whole call
    assert calls[0].function.name == "forecast"
    _fits(calls[0].function.arguments)
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_tool_choice_none_gives_text(client: ZaiClient) -> None:
    response = client.chat.completions.create(
        model="gemma-3-270m", messages=ASK, tools=[FORECAST], tool_choice="none",
        do_sample=False, max_tokens=8,
    )  # fmt: skip
    assert response.choices[0].message.tool_calls is None
    assert response.choices[0].message.content


def test_tools_under_auto_for_a_model_that_cannot_see_them_are_refused(
    client: ZaiClient,
) -> None:
    # Gemma's transcript format shows no tools: answering as if there were none would
    # drop them without a word; a forced call (above) still works.
    with pytest.raises(APIStatusError) as info:
        client.chat.completions.create(
            model="gemma-3-270m", messages=ASK, tools=[FORECAST], max_tokens=8
        )
    assert info.value.status_code == 400
    error = info.value.response.json()["error"]
    assert error["code"] == "1214" and "does not support tools" in error["message"]


@pytest.mark.parametrize("model", ["gemma-3-270m", "glm-4.7"])
def test_json_schema_answer_matches(client: ZaiClient, model: str) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "capital": {"type": "string", "enum": ["Paris", "Lyon"]},
            "population_millions": {"type": "integer"},
        },
        "required": ["capital", "population_millions"],
    }
    response = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "What is the capital of France?"}],
        response_format={"type": "json_schema", "json_schema": {"name": "a", "schema": schema}},
        do_sample=False,
        max_tokens=60,
        thinking={"type": "disabled"},
    )
    answer = json.loads(response.choices[0].message.content)
    assert answer["capital"] in ("Paris", "Lyon")
    assert isinstance(answer["population_millions"], int)
    assert response.choices[0].finish_reason == "stop"


def test_json_object_answer_is_an_object(client: ZaiClient) -> None:
    response = client.chat.completions.create(
        model="gemma-3-270m",
        messages=[{"role": "user", "content": "Give the capital of France as JSON."}],
        response_format={"type": "json_object"},
        do_sample=False,
        max_tokens=200,
    )
    assert response.choices[0].finish_reason == "stop"
    assert isinstance(json.loads(response.choices[0].message.content), dict)
