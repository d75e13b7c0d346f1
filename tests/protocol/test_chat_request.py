"""Request parsing: what Z.AI clients really send, and the business code of each mistake."""

import json
from typing import Any

import pytest

from glmserve.config import HttpSettings
from glmserve.errors import GlmServeError
from glmserve.protocol.chat import parse_chat_request, template_messages

DEPTH = HttpSettings.max_json_depth  # the default [http] nesting limit

USER = [{"role": "user", "content": "hi"}]


def _parse(body: dict[str, Any]):  # type: ignore[no-untyped-def]
    return parse_chat_request(json.dumps(body).encode(), max_depth=DEPTH)


def _code(body: dict[str, Any] | bytes) -> str:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    with pytest.raises(GlmServeError) as info:
        parse_chat_request(raw, max_depth=DEPTH)
    return info.value.code


def test_sdk_body_with_null_fields_is_accepted() -> None:
    # zai-sdk always sends response_format and thinking, as null.
    req = _parse({"model": "m", "messages": USER, "response_format": None, "thinking": None})
    assert req.response_format is None and req.thinking is None


@pytest.mark.parametrize(("sent", "echoed"), [(1.5, "1.5"), (12345, "12345"), ("abc-1", "abc-1")])
def test_request_id_number_or_string(sent: Any, echoed: str) -> None:
    assert _parse({"model": "m", "messages": USER, "request_id": sent}).request_id == echoed


def test_sdk_second_round_history_is_normalized() -> None:
    # What zai-sdk sends after appending its CompletionMessage back into the history.
    messages = [
        {"role": "user", "content": "weather?"},
        {
            "content": None,
            "role": "assistant",
            "reasoning_content": "think",
            "tool_calls": [
                {
                    "id": "call_abc",
                    "function": {"arguments": '{"city":"Beijing"}', "name": "get_weather"},
                    "type": "function",
                    "index": 0,
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_abc", "content": '{"t":25}'},
    ]
    req = _parse({"model": "m", "messages": messages})
    rendered = template_messages(req.messages)
    assert rendered[1]["tool_calls"][0]["function"]["arguments"] == {"city": "Beijing"}
    assert rendered[1]["reasoning_content"] == "think"
    assert rendered[1]["content"] == ""  # null renders as "None" in Jinja: empty text


def test_list_content_becomes_text() -> None:
    content = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    req = _parse({"model": "m", "messages": [{"role": "user", "content": content}]})
    assert template_messages(req.messages)[0]["content"] == "ab"


def test_vllm_style_reasoning_is_read_as_reasoning_content() -> None:
    msgs = [*USER, {"role": "assistant", "content": "x", "reasoning": "r"}, *USER]
    assert (
        template_messages(_parse({"model": "m", "messages": msgs}).messages)[1]["reasoning_content"]
        == "r"
    )


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "1210"),
        (b"[1, 2]", "1210"),
        ({"messages": USER}, "1213"),
        ({"model": None, "messages": USER}, "1213"),
        ({"model": "m"}, "1213"),
        ({"model": "m", "messages": []}, "1214"),
        ({"model": "m", "messages": [{"role": "system", "content": "s"}]}, "1214"),
        ({"model": "m", "messages": [{"role": "wizard", "content": "s"}]}, "1214"),
        ({"model": "m", "messages": [{"role": "user", "content": None}]}, "1214"),
        ({"model": "m", "messages": USER, "temperature": 1.5}, "1214"),
        ({"model": "m", "messages": USER, "temperature": "hot"}, "1214"),
        ({"model": "m", "messages": USER, "top_p": 0}, "1214"),
        ({"model": "m", "messages": USER, "max_tokens": 0}, "1214"),
        ({"model": "m", "messages": USER, "max_tokens": 2.5}, "1214"),
        ({"model": "m", "messages": USER, "stream": "maybe"}, "1214"),
        ({"model": "m", "messages": USER, "stop": ["a", "b", "c", "d", "e"]}, "1214"),
        ({"model": "m", "messages": USER, "stop": [""]}, "1214"),
        ({"model": "m", "messages": USER, "n": 2}, "1214"),
        ({"model": "m", "messages": USER, "thinking": {"type": "sometimes"}}, "1214"),
        ({"model": "m", "messages": USER, "response_format": {"type": "yaml"}}, "1214"),
        ({"model": "m", "messages": USER, "tool_choice": "required"}, "1214"),
        (
            {
                "model": "m",
                "messages": USER,
                "tools": [{"type": "function", "function": {"name": "bad name!"}}],
            },
            "1214",
        ),
        (
            {
                "model": "m",
                "messages": USER,
                "tools": [{"type": "function", "function": {"name": "f"}}],
                "tool_choice": {"type": "function", "function": {"name": "g"}},
            },
            "1214",
        ),
        ({"model": "m", "messages": USER, "max_tokens": 5, "max_completion_tokens": 6}, "1215"),
        (
            {
                "model": "m",
                "messages": USER,
                "thinking": {"type": "enabled"},
                "enable_thinking": False,
            },
            "1215",
        ),
    ],
)
def test_bad_input_gets_its_business_code(body: dict[str, Any] | bytes, code: str) -> None:
    assert _code(body) == code


@pytest.mark.parametrize(
    ("tool", "named"),
    [
        ({"type": "retrieval", "retrieval": {"knowledge_id": "k1"}}, "'retrieval'"),
        ({"type": "code_interpreter", "code_interpreter": {}}, "'code_interpreter'"),
    ],
)
def test_tool_types_not_run_are_refused_by_name(tool: dict[str, Any], named: str) -> None:
    fn = {"type": "function", "function": {"name": "f"}}
    with pytest.raises(GlmServeError) as info:
        _parse({"model": "m", "messages": USER, "tools": [fn, tool]})
    assert info.value.code == "1214" and info.value.status == 400
    assert "tools[1].type" in info.value.message and named in info.value.message


def test_missing_field_message_names_the_field() -> None:
    with pytest.raises(GlmServeError) as info:
        parse_chat_request(b'{"model": "m"}', max_depth=DEPTH)
    assert "messages" in info.value.message


def test_unknown_fields_are_ignored() -> None:
    req = _parse({"model": "m", "messages": USER, "parallel_tool_calls": True, "logit_bias": {}})
    assert req.model == "m"
