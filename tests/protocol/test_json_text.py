"""Decoding request bodies (protocol/json_text.py) and the size checks before
tokenizing (protocol/sizes.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glmserve.config import HttpSettings
from glmserve.errors import ContentTooLong, InvalidField, InvalidRequest
from glmserve.protocol.chat import parse_chat_request
from glmserve.protocol.json_text import JsonTooDeep, LoneSurrogate, decode_json, nesting
from glmserve.protocol.sizes import check_sizes

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=20,
)

DEPTH = HttpSettings.max_json_depth  # the default [http] nesting limit


def _depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    return 0


@given(JSON)
def test_nesting_is_measured_without_parsing(value: Any) -> None:
    text = json.dumps(value)
    assert nesting(text) == _depth(value)
    assert decode_json(text.encode(), max_depth=max(2, _depth(value))) == value


def test_brackets_in_strings_do_not_count() -> None:
    assert nesting(json.dumps({"a": "[[[{{{", "b": ['"]]]\\"']})) == 2


@pytest.mark.parametrize("depth", [65, 100_000, 500_000])
def test_deep_json_is_refused_before_parsing(depth: int) -> None:
    body = b"[" * depth + b"]" * depth
    with pytest.raises(JsonTooDeep, match=f"nested {depth} levels"):
        decode_json(body, max_depth=64)
    unclosed = b'{"a": ' + b"[" * depth
    with pytest.raises(InvalidRequest):
        decode_json(unclosed, max_depth=64)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-be", "utf-32"])
def test_the_encodings_json_allows(encoding: str) -> None:
    value = {"model": "m", "messages": [{"role": "user", "content": "héllo 😀"}]}
    assert decode_json(json.dumps(value, ensure_ascii=False).encode(encoding), max_depth=8) == value


@pytest.mark.parametrize(
    "text", ['"a\\ud800b"', '["\\udc00"]', '{"\\ud83d": 1}', '"\\ud83d\\ud83d"', '"\\ude00\\ud83d"']
)
def test_lone_surrogates_are_refused(text: str) -> None:
    with pytest.raises(LoneSurrogate):
        decode_json(text.encode(), max_depth=8)


@pytest.mark.parametrize("text", ['"\\ud83d\\ude00"', '"\\\\ud800"', '"\\\\\\ud83d\\ude00"'])
def test_pairs_and_escaped_backslashes_are_text(text: str) -> None:
    assert isinstance(decode_json(text.encode(), max_depth=8), str)


def test_bytes_that_are_no_text() -> None:
    with pytest.raises(InvalidRequest):
        decode_json(b'{"a": "\xff\xfe\xfa"}', max_depth=8)


def test_arguments_strings_are_bounded_too() -> None:
    deep = '{"a": ' + "[" * 1000 + "]" * 1000 + "}"
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": deep}}]},
        ],
    }
    with pytest.raises(InvalidField, match=r"arguments.*nested"):
        parse_chat_request(body, max_depth=DEPTH)
    body["messages"][1]["tool_calls"][0]["function"]["arguments"] = '{"a": "\\ud800"}'
    with pytest.raises(InvalidField, match=r"arguments.*surrogate"):
        parse_chat_request(body, max_depth=DEPTH)


LIMITS = HttpSettings(max_messages=3, max_message_chars=10, max_total_chars=25)


def _request(*contents: str, **fields: Any) -> Any:
    messages = [{"role": "user", "content": c} for c in contents]
    return parse_chat_request({"model": "m", "messages": messages, **fields}, max_depth=DEPTH)


def test_sizes_within_the_limits() -> None:
    check_sizes(_request("a" * 10, "b" * 10), LIMITS)


def test_too_many_messages() -> None:
    with pytest.raises(InvalidField, match="4 messages"):
        check_sizes(_request("a", "b", "c", "d"), LIMITS)


def test_one_message_too_long() -> None:
    with pytest.raises(ContentTooLong, match=r"messages\[1\]"):
        check_sizes(_request("a", "b" * 11), LIMITS)
    parts = [{"type": "text", "text": "b" * 6}] * 2
    with pytest.raises(ContentTooLong, match=r"messages\[0\]"):
        check_sizes(_request(parts), LIMITS)  # type: ignore[arg-type]


def test_the_whole_request_too_long() -> None:
    with pytest.raises(ContentTooLong, match="25 characters"):
        check_sizes(_request("a" * 10, "b" * 10, "c" * 10), LIMITS)
    tool = {"type": "function", "function": {"name": "f", "description": "d" * 20}}
    with pytest.raises(ContentTooLong):
        check_sizes(_request("a" * 10, tools=[tool]), LIMITS)


@pytest.mark.parametrize(
    "fields",
    [{"max_tokens": True}, {"top_k": False}, {"temperature": True}, {"seed": True}, {"n": True}],
)
def test_booleans_are_not_numbers(fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidField, match=next(iter(fields))):
        _request("hi", **fields)


@pytest.mark.parametrize("content", ["", []])
def test_an_empty_user_message(content: Any) -> None:
    with pytest.raises(InvalidField, match="empty"):
        _request(content)
