"""The Anthropic Messages surface through the official ``anthropic`` SDK.

Plain text on the shared server (Gemma weights served as glm-4.7); thinking and tool
use on the scripted GLM model (tests/support/scripted_glm.py) writing recorded GLM-4.7
outputs, so the real GLM parser turns GLM's format into thinking and tool_use blocks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.conftest import Server
from tests.e2e.conftest import GlmServer
from tests.support.scripted_glm import Script

REASONING = "The user wants the weather in Paris. I will call the tool."
ROUND_ONE = (
    f"{REASONING}</think><tool_call>get_weather<arg_key>city</arg_key>"
    '<arg_value>Paris, "Île-de-France"</arg_value><arg_key>days</arg_key>'
    "<arg_value>2</arg_value></tool_call><|observation|>"
)
ROUND_TWO = "It is 21 degrees.</think>It is 21 °C in Paris.<|user|>"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather of a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
        "required": ["city"],
    },
}
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}

# The Messages API's stream: message_start, then content blocks (start, deltas, stop),
# then message_delta and message_stop; ping may come anywhere after message_start.
EVENT_ORDER = re.compile(
    r"message_start (ping )*"
    r"(content_block_start (ping |content_block_delta )*content_block_stop (ping )*)*"
    r"message_delta (ping )*message_stop "
)


# Events the SDK's stream helper adds beside the raw ones it received.
HELPER_EVENTS = ("text", "thinking", "signature", "input_json", "citation")


def _client(server: Server) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="any", base_url=f"{server.base}/api/anthropic")


def _prompts(path: Path) -> list[str]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_plain_message_maps_claude_name_and_reports_usage(server: Server) -> None:
    client = _client(server)
    message = client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=8,
        extra_body={"temperature": 0},  # greedy: the same text every run
        system=[{"type": "text", "text": "You are terse."}],
        messages=[{"role": "user", "content": "Say hello"}],
        thinking={"type": "disabled"},
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.model == "glm-4.7"
    assert [block.type for block in message.content] == ["text"]
    assert message.stop_reason in ("end_turn", "max_tokens")
    usage = message.usage
    assert usage.input_tokens > 0 and usage.cache_read_input_tokens is not None
    assert 1 <= usage.output_tokens <= 8

    counted = client.messages.count_tokens(
        model="claude-sonnet-4-6",
        system=[{"type": "text", "text": "You are terse."}],
        messages=[{"role": "user", "content": "Say hello"}],
        thinking={"type": "disabled"},
    )
    assert counted.input_tokens == usage.input_tokens + usage.cache_read_input_tokens


def test_stream_follows_the_messages_event_order(server: Server) -> None:
    client = _client(server)
    with client.messages.stream(
        model="claude-haiku-4-5",
        max_tokens=8,
        extra_body={"temperature": 0},  # greedy: the same text every run
        system="You are terse.",
        messages=[{"role": "user", "content": "Say hello"}],
        thinking={"type": "disabled"},
    ) as stream:
        kinds = [event.type for event in stream]
        final = stream.get_final_message()
    # The SDK's helper stream adds its own "text" events beside the raw ones.
    raw = [k for k in kinds if k not in HELPER_EVENTS]
    assert EVENT_ORDER.fullmatch("".join(f"{k} " for k in raw)), raw
    assert final.model == "glm-4.7"
    assert final.content and final.content[0].type == "text"
    assert final.usage.output_tokens >= 1 and final.usage.input_tokens > 0


def test_errors_have_anthropic_shape(server: Server) -> None:
    client = _client(server)
    with pytest.raises(anthropic.NotFoundError) as missing:
        client.messages.create(
            model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert missing.value.body["type"] == "error"  # type: ignore[index]
    assert missing.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]

    url = f"{server.base}/api/anthropic/v1/messages"
    no_max = httpx.post(url, json={"model": "claude-sonnet-4", "messages": [QUESTION]})
    assert no_max.status_code == 400
    assert no_max.json()["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in no_max.json()["error"]["message"]
    bad_block = httpx.post(
        url,
        json={
            "model": "claude-sonnet-4",
            "max_tokens": 5,
            "messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}],
        },
    )
    assert bad_block.status_code == 400
    assert bad_block.json()["type"] == "error"
    not_json = httpx.post(url, content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and not_json.json()["type"] == "error"
    unknown = httpx.get(f"{server.base}/api/anthropic/v1/nothing")
    assert unknown.status_code == 404
    assert unknown.json()["error"]["type"] == "not_found_error"
    # The Z.AI surface keeps its own shape.
    zai = httpx.post(f"{server.zai_base}chat/completions", json={"model": "no-such-model"})
    assert zai.status_code == 400 and zai.json()["error"]["code"] == "1213"


def test_models_list(server: Server) -> None:
    ids = [model.id for model in _client(server).models.list()]
    assert "glm-4.7" in ids and "gemma-3-270m" in ids


def test_tool_use_round_trip_with_preserved_thinking(glm: GlmServer) -> None:
    server, prompts = glm([Script(ROUND_ONE), Script(ROUND_TWO, when="<tool_response>")])
    client = _client(server)

    first = client.messages.create(
        model="claude-opus-4-7",
        max_tokens=256,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[QUESTION],  # type: ignore[list-item]
        thinking={"type": "enabled", "budget_tokens": 2048},
    )
    assert first.model == "glm-4.7"
    assert first.stop_reason == "tool_use"
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    thinking, call = first.content
    assert thinking.type == "thinking" and thinking.thinking == REASONING
    assert thinking.signature
    assert call.type == "tool_use" and call.name == "get_weather"
    assert call.input == {"city": 'Paris, "Île-de-France"', "days": 2}
    assert first.usage.output_tokens > 10 and first.usage.input_tokens > 0

    second = client.messages.create(
        model="claude-opus-4-7",
        max_tokens=256,
        tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            QUESTION,  # type: ignore[list-item]
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": '{"temp": 21}'}
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert [(b.type, getattr(b, "text", None)) for b in second.content] == [
        ("thinking", None),
        ("text", "It is 21 °C in Paris."),
    ]
    assert second.content[0].thinking == "It is 21 degrees."  # type: ignore[union-attr]

    # Preserved thinking is the default here: the first turn's reasoning is in the prompt.
    seen = _prompts(prompts)
    assert seen[1].endswith(
        "<|user|>What is the weather in Paris?<|assistant|>"
        f"<think>{REASONING}</think><tool_call>get_weather"
        '<arg_key>city</arg_key><arg_value>Paris, "Île-de-France"</arg_value>'
        "<arg_key>days</arg_key><arg_value>2</arg_value></tool_call>"
        '<|observation|><tool_response>{"temp": 21}</tool_response><|assistant|><think>'
    )
    assert "<tools>" in seen[1] and '"name": "get_weather"' in seen[1]


def test_stream_of_thinking_and_tool_use_exact_events(glm: GlmServer) -> None:
    server, _ = glm([Script(ROUND_ONE)])
    with _client(server).messages.stream(
        model="claude-sonnet-4",
        max_tokens=256,
        tools=[WEATHER],  # type: ignore[list-item]
        tool_choice={"type": "any"},
        messages=[QUESTION],  # type: ignore[list-item]
    ) as stream:
        events = [e for e in stream if e.type not in HELPER_EVENTS]
        final = stream.get_final_message()

    kinds = [e.type for e in events]
    assert EVENT_ORDER.fullmatch("".join(f"{k} " for k in kinds)), kinds
    deltas = [e.delta.type for e in events if e.type == "content_block_delta"]  # type: ignore[union-attr]
    starts = [e.content_block.type for e in events if e.type == "content_block_start"]  # type: ignore[union-attr]
    assert starts == ["thinking", "tool_use"]
    first_json = deltas.index("input_json_delta")
    assert set(deltas[: first_json - 1]) == {"thinking_delta"}
    assert deltas[first_json - 1] == "signature_delta"
    assert set(deltas[first_json:]) == {"input_json_delta"}
    assert len(deltas[first_json:]) > 2  # the input arrives in pieces
    assert events[-2].type == "message_delta"
    assert events[-2].delta.stop_reason == "tool_use"  # type: ignore[union-attr]
    assert events[-2].usage.output_tokens > 10  # type: ignore[union-attr]
    assert [b.type for b in final.content] == ["thinking", "tool_use"]
    assert final.content[1].input == {"city": 'Paris, "Île-de-France"', "days": 2}  # type: ignore[union-attr]
    assert final.content[0].thinking == REASONING  # type: ignore[union-attr]


def test_thinking_disabled_and_auth_headers(glm: GlmServer) -> None:
    server, prompts = glm([Script("Hello there.<|user|>")])
    response = httpx.post(
        f"{server.base}/api/anthropic/v1/messages",
        headers={"Authorization": "Bearer any", "anthropic-version": "2023-06-01"},
        json={
            "model": "claude-3-5-haiku-latest",
            "max_tokens": 32,
            "thinking": {"type": "disabled"},
            "metadata": {"user_id": "user_" + "a" * 200},
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["content"] == [{"type": "text", "text": "Hello there."}]
    assert body["stop_reason"] == "end_turn"
    assert body["usage"]["cache_read_input_tokens"] >= 0
    assert _prompts(prompts)[0].endswith("<|user|>Hi<|assistant|></think>")


def test_base_url_probe_answers_without_a_key(server: Server) -> None:
    # Claude Code sends HEAD <base> before its first request.
    for path in ("/api/anthropic", "/api/anthropic/"):
        head = httpx.head(f"{server.base}{path}")
        assert head.status_code == 200 and head.content == b""
        got = httpx.get(f"{server.base}{path}")
        assert got.status_code == 200 and got.json()["api"] == "anthropic"


def test_mid_conversation_system_message_is_answered(glm: GlmServer) -> None:
    server, prompts = glm([Script("Short.</think>Hi.<|user|>")])
    response = httpx.post(
        f"{server.base}/api/anthropic/v1/messages",
        params={"beta": "true"},
        headers={"anthropic-beta": "mid-conversation-system-2026-04-07,no-such-beta-2099-01-01"},
        json={
            "model": "claude-opus-4-8",
            "max_tokens": 64000,
            "thinking": {"type": "adaptive"},
            "output_config": {"effort": "high"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "messages": [
                {"role": "user", "content": "Hello"},
                {"role": "system", "content": "Answer in one word."},
            ],
        },
    )
    assert response.status_code == 200, response.text
    thinking, text = response.json()["content"]
    assert thinking["thinking"] == "Short." and thinking["signature"]
    assert text == {"type": "text", "text": "Hi."}
    assert _prompts(prompts)[0].endswith(
        "<|user|>Hello<|system|>Answer in one word.<|assistant|><think>"
    )
