"""Tool calls on the wire (zai-api.md section 6), and grammars that cannot be built."""

from __future__ import annotations

import itertools
import json

import pytest

from glmserve.chat import glm47, grammar
from glmserve.chat.output import Delta
from glmserve.chat.schema import tool_specs
from glmserve.protocol.deltas import StreamShaper, message_body

TOOLS = [
    {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
    {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}}},
]
TEXT = (
    "Plan.</think>Calling.<tool_call>a<arg_key>x</arg_key><arg_value>12</arg_value>"
    "</tool_call><tool_call>b</tool_call>"
)


def _ids() -> itertools.count[int]:
    return itertools.count()


def _deltas() -> list[Delta]:
    parser = glm47.parser(TOOLS)
    out = [d for ch in TEXT for d in parser.feed(ch)]
    return out + parser.finish()


def _shape(tool_stream: bool) -> list[dict]:  # type: ignore[type-arg]
    counter = _ids()
    shaper = StreamShaper(tool_stream=tool_stream, new_id=lambda: f"call_{next(counter)}")
    chunks = [c for d in _deltas() for c in shaper.push(d)]
    return chunks + shaper.flush()


def test_tool_stream_sends_the_name_then_argument_pieces() -> None:
    calls = [c["tool_calls"][0] for c in _shape(True) if "tool_calls" in c]
    assert calls[0] == {
        "index": 0, "id": "call_0", "type": "function", "function": {"name": "a", "arguments": ""}
    }  # fmt: skip
    rest = [c for c in calls[1:] if c["index"] == 0]
    assert all(set(c) == {"index", "function"} for c in rest) and len(rest) > 2
    assert "".join(c["function"]["arguments"] for c in rest) == '{"x": 12}'
    second = [c for c in calls if c["index"] == 1]
    assert second[0]["function"]["name"] == "b" and second[0]["id"] == "call_1"


def test_without_tool_stream_each_call_is_one_chunk() -> None:
    chunks = _shape(False)
    calls = [c["tool_calls"][0] for c in chunks if "tool_calls" in c]
    assert [(c["index"], c["function"]["name"], c["function"]["arguments"]) for c in calls] == [
        (0, "a", '{"x": 12}'),
        (1, "b", "{}"),
    ]
    assert "".join(c.get("reasoning_content", "") for c in chunks) == "Plan."


def test_non_stream_message() -> None:
    counter = _ids()
    message = message_body(_deltas(), lambda: f"call_{next(counter)}")
    assert message["content"] == "Calling."
    assert message["reasoning_content"] == "Plan."
    assert [json.loads(c["function"]["arguments"]) for c in message["tool_calls"]] == [
        {"x": 12},
        {},
    ]
    only_calls = message_body([Delta("tool_call", "{}", 0, "b")], lambda: "call_9")
    assert only_calls["content"] is None


def test_a_schema_no_grammar_can_express_is_refused() -> None:
    with pytest.raises(grammar.GrammarError):
        grammar.json_answer({"$ref": "https://example.com/schema.json"}, thinking="none")
    with pytest.raises(grammar.GrammarError):
        grammar.json_call(tool_specs([]), name=None)
