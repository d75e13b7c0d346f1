"""OpenAI-compatible paths (``/v1``) with the ``openai`` SDK and LangChain's ChatOpenAI,
and the OpenAI/DashScope request fields: ``stream_options.include_usage``,
``max_completion_tokens``, ``reasoning_effort``, ``enable_thinking``, ``n``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

from tests.conftest import Server
from tests.e2e.conftest import GlmServer
from tests.support.scripted_glm import Script

ROUND_ONE = (
    "I will call the tool.</think><tool_call>get_weather<arg_key>city</arg_key>"
    "<arg_value>Paris</arg_value><arg_key>days</arg_key><arg_value>2</arg_value>"
    "</tool_call><|observation|>"
)
ROUND_TWO = "It is 21 degrees.</think>It is 21 °C in Paris.<|user|>"


def _openai(server: Server) -> openai.OpenAI:
    return openai.OpenAI(api_key="any", base_url=f"{server.base}/v1")


def test_include_usage_gives_a_last_chunk_with_empty_choices(server: Server) -> None:
    chunks = list(
        _openai(server).chat.completions.create(
            model="glm-4.7",
            messages=[{"role": "user", "content": "Say hi"}],
            max_completion_tokens=6,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    last, finish = chunks[-1], chunks[-2]
    assert last.choices == []
    assert last.usage is not None and 1 <= last.usage.completion_tokens <= 6
    assert last.usage.total_tokens == last.usage.prompt_tokens + last.usage.completion_tokens
    assert finish.choices[0].finish_reason in ("stop", "length")
    assert finish.usage is None
    assert all(c.usage is None for c in chunks[:-1])


def test_without_include_usage_the_finish_chunk_carries_usage(server: Server) -> None:
    chunks = list(
        _openai(server).chat.completions.create(
            model="glm-4.7",
            messages=[{"role": "user", "content": "Say hi"}],
            max_tokens=4,
            stream=True,
        )
    )
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens <= 4


def test_v1_models_and_max_completion_tokens_and_n(server: Server) -> None:
    client = _openai(server)
    assert "glm-4.7" in [m.id for m in client.models.list()]
    completion = client.chat.completions.create(
        model="glm-4.7", messages=[{"role": "user", "content": "Tell a story"}],
        max_completion_tokens=3,
    )  # fmt: skip
    assert completion.usage is not None and completion.usage.completion_tokens <= 3
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model="glm-4.7", messages=[{"role": "user", "content": "hi"}], n=2
        )
    assert refused.value.body["code"] == "1214"  # type: ignore[index]
    # The Anthropic surface is not reachable under /v1: Z.AI's 404 shape there.
    missing = httpx.post(f"{server.base}/v1/messages", json={})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "1222"


def _prompts(path: Path) -> list[str]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_reasoning_effort_and_enable_thinking_switch_thinking(glm: GlmServer) -> None:
    # With thinking on the prompt ends in <think>, which selects the reasoning script.
    server, prompts = glm(
        [Script("Hi.<|user|>"), Script("Fine.</think>Hi.<|user|>", when="<think>")]
    )
    client = _openai(server)
    hi = [{"role": "user", "content": "Hi"}]
    off = client.chat.completions.create(model="glm-4.7", messages=hi, reasoning_effort="none")  # type: ignore[arg-type]
    on = client.chat.completions.create(model="glm-4.7", messages=hi, reasoning_effort="high")  # type: ignore[arg-type]
    dashscope = client.chat.completions.create(
        model="glm-4.7", messages=hi, extra_body={"enable_thinking": False}  # type: ignore[arg-type]
    )  # fmt: skip
    assert off.choices[0].message.content == "Hi."
    assert on.choices[0].message.content == "Hi."
    assert on.choices[0].message.reasoning_content == "Fine."  # type: ignore[attr-defined]
    assert dashscope.choices[0].message.content == "Hi."
    seen = _prompts(prompts)
    assert seen[0].endswith("<|assistant|></think>")
    assert seen[1].endswith("<|assistant|><think>")
    assert seen[2].endswith("<|assistant|></think>")


@tool
def get_weather(city: str, days: int) -> str:
    """Current weather of a city."""
    return json.dumps({"city": city, "days": days, "temp": 21})


def test_langchain_tool_calling_loop(glm: GlmServer) -> None:
    server, prompts = glm([Script(ROUND_ONE), Script(ROUND_TWO, when="<tool_response>")])
    llm = ChatOpenAI(model="glm-4.7", api_key="any", base_url=f"{server.base}/v1")  # type: ignore[arg-type]
    bound = llm.bind_tools([get_weather])
    messages: list = [HumanMessage("What is the weather in Paris?")]  # type: ignore[type-arg]
    for _ in range(3):
        reply = bound.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            assert call["name"] == "get_weather"
            assert call["args"] == {"city": "Paris", "days": 2}
            messages.append(ToolMessage(get_weather.invoke(call["args"]), tool_call_id=call["id"]))
    assert messages[-1].content == "It is 21 °C in Paris."
    assert len(messages) == 4  # question, tool call, tool result, answer
    seen = _prompts(prompts)
    assert '<tool_response>{"city": "Paris", "days": 2, "temp": 21}</tool_response>' in seen[1]
