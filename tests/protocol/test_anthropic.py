"""Anthropic Messages requests into chat requests, deltas into blocks and events."""

from __future__ import annotations

import json
from typing import Any

import pytest

from glmserve.chat.output import Delta
from glmserve.config import HttpSettings
from glmserve.engine.types import Usage
from glmserve.errors import GlmServeError
from glmserve.protocol.anthropic import parse_messages_request, to_chat_request
from glmserve.protocol.anthropic_responses import BlockBuilder, error_body, message_body

DEPTH = HttpSettings.max_json_depth  # the default [http] nesting limit

TOOL = {"name": "get_weather", "input_schema": {"type": "object", "properties": {}}}


def _request(**fields: Any) -> bytes:
    body = {"model": "claude-sonnet-4", "max_tokens": 100, **fields}
    return json.dumps(body).encode()


def test_blocks_translate_to_chat_messages() -> None:
    request = parse_messages_request(
        _request(
            system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}],
            tools=[TOOL],
            tool_choice={"type": "any"},
            thinking={"type": "enabled", "budget_tokens": 1024},
            stop_sequences=["END"],
            top_k=5,
            messages=[
                {"role": "user", "content": "Weather?"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "Call it.", "signature": "x"},
                        {"type": "text", "text": "Checking."},
                        {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"a": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "t1",
                            "content": [{"type": "text", "text": "sunny"}],
                        },
                        {"type": "text", "text": "And tomorrow?"},
                        {
                            "type": "image",
                            "source": {"type": "base64", "media_type": "image/jpeg", "data": "QQ"},
                        },
                    ],
                },
            ],
        ),
        max_depth=DEPTH,
    )
    chat = to_chat_request(request, "glm-4.7", max_depth=DEPTH)
    assert chat.model == "glm-4.7" and chat.max_tokens == 100 and chat.top_k == 5
    assert chat.tool_choice == "required" and chat.stop_list == ("END",)
    assert chat.thinking is not None and chat.thinking.type == "enabled"
    roles = [m.role for m in chat.messages]
    assert roles == ["system", "user", "assistant", "tool", "user"]
    assert chat.messages[0].content == "Be brief.\n\nBe kind."
    assistant = chat.messages[2]
    assert assistant.content == "Checking." and assistant.reasoning_content == "Call it."
    assert assistant.tool_calls is not None and assistant.tool_calls[0].id == "t1"
    assert json.loads(str(assistant.tool_calls[0].function.arguments)) == {"a": 1}
    assert chat.messages[3].tool_call_id == "t1" and chat.messages[3].content == "sunny"
    parts = chat.messages[4].content
    assert isinstance(parts, list) and len(parts) == 2
    assert parts[1].image_url.url == "data:image/jpeg;base64,QQ"  # type: ignore[union-attr]


def test_named_tool_choice_and_disabled_thinking() -> None:
    request = parse_messages_request(
        _request(
            messages=[{"role": "user", "content": "hi"}],
            tools=[TOOL],
            tool_choice={"type": "tool", "name": "get_weather"},
            thinking={"type": "disabled"},
        ),
        max_depth=DEPTH,
    )
    chat = to_chat_request(request, "m", max_depth=DEPTH)
    assert chat.tool_choice is not None and not isinstance(chat.tool_choice, str)
    assert chat.tool_choice.function.name == "get_weather"
    assert chat.thinking is not None and chat.thinking.type == "disabled"


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": None}, 400, "max_tokens"),
        ({"messages": []}, 400, "messages"),
        ({"messages": [{"role": "tool", "content": "hi"}]}, 400, "role"),
        ({"messages": [{"role": "system", "content": "hi"}]}, 400, "only system"),
        ({"messages": [{"role": "user", "content": "hi"}], "max_tokens": 0}, 400, "max_tokens"),
        ({"messages": [{"role": "user", "content": "hi"}], "temperature": 1.5}, 400, "temperature"),
        (
            {
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [{"type": "web_search_20250305", "name": "web_search"}],
            },
            400,
            "server tool",
        ),
        (
            {
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [TOOL],
                "tool_choice": {"type": "tool", "name": "other"},
            },
            400,
            "other",
        ),
    ],
)
def test_bad_requests_are_typed_errors(fields: dict[str, Any], status: int, words: str) -> None:
    with pytest.raises(GlmServeError) as caught:
        to_chat_request(
            parse_messages_request(_request(**fields), max_depth=DEPTH), "m", max_depth=DEPTH
        )
    assert caught.value.status == status
    assert words in caught.value.message


def test_count_tokens_body_needs_no_max_tokens() -> None:
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}).encode()
    assert parse_messages_request(body, count_only=True, max_depth=DEPTH).max_tokens is None
    with pytest.raises(GlmServeError):
        parse_messages_request(body, max_depth=DEPTH)


def _events(raw: list[bytes]) -> list[dict[str, Any]]:
    out = []
    for item in raw:
        head, data = item.decode().strip().split("\n")
        event = json.loads(data.removeprefix("data: "))
        assert head == f"event: {event['type']}"
        out.append(event)
    return out


def test_block_builder_groups_deltas_in_order() -> None:
    ids = iter(["id1", "id2"])
    builder = BlockBuilder(lambda: next(ids))
    deltas = [
        Delta("reasoning", "Thin"),
        Delta("reasoning", "king."),
        Delta("content", ""),
        Delta("content", "Text."),
        Delta("tool_call", '{"a": ', 0, "f"),
        Delta("tool_call", "1}", 0),
        Delta("tool_call", "{}", 1, "g"),
    ]
    events = _events([e for d in deltas for e in builder.push(d)] + builder.close())
    summary = [
        (e["type"], e["index"], (e.get("delta") or e.get("content_block") or {}).get("type"))
        for e in events
    ]
    assert summary == [
        ("content_block_start", 0, "thinking"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "signature_delta"),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, "text"),
        ("content_block_delta", 1, "text_delta"),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, "tool_use"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_stop", 2, None),
        ("content_block_start", 3, "tool_use"),
        ("content_block_delta", 3, "input_json_delta"),
        ("content_block_stop", 3, None),
    ]
    thinking, text, first, second = builder.blocks
    assert thinking["thinking"] == "Thinking." and thinking["signature"]
    assert text == {"type": "text", "text": "Text."}
    assert (first["id"], first["name"], first["input"]) == ("id1", "f", {"a": 1})
    assert (second["id"], second["name"], second["input"]) == ("id2", "g", {})


def test_message_body_usage_and_stop_reasons() -> None:
    body = message_body(
        id="x",
        model="glm-4.7",
        deltas=[Delta("content", "Hi")],
        finish_reason="length",
        usage=Usage(prompt_tokens=10, completion_tokens=3, cached_tokens=4),
        new_id=lambda: "t",
    )
    assert body["stop_reason"] == "max_tokens" and body["stop_sequence"] is None
    assert body["usage"] == {
        "input_tokens": 6,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 4,
        "output_tokens": 3,
    }
    assert body["content"] == [{"type": "text", "text": "Hi"}]


def test_error_types_follow_status() -> None:
    assert error_body(GlmServeError("m", status=401))["error"]["type"] == "authentication_error"
    assert error_body(GlmServeError("m", status=429))["error"]["type"] == "rate_limit_error"
    assert error_body(GlmServeError("m", status=500)) == {
        "type": "error",
        "error": {"type": "api_error", "message": "m"},
    }
