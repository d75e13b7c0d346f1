"""The GLM parsers' documented outcomes, one behaviour per test."""

from __future__ import annotations

import json

from glmserve.chat import glm45, glm47
from glmserve.chat.output import collect
from tests.chat.glm_helpers import parse_every_way, stream

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "$defs": {"Day": {"type": "integer"}},
            "properties": {
                "city": {"type": "string"},
                "days": {"$ref": "#/$defs/Day"},
                "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "code": {"type": ["integer", "string"]},
                "unit": {"enum": ["c", "f"]},
            },
        },
    },
}
WRITE = {
    "type": "function",
    "function": {
        "name": "write",
        "parameters": {"type": "object", "properties": {"body": {"type": "string"}}},
    },
}
TOOLS = [WEATHER, WRITE]


def _args(text: str, prompt: str = "</think>") -> dict[str, object]:
    message = parse_every_way(glm47, text, TOOLS, prompt)
    assert len(message.tool_calls) == 1
    result: dict[str, object] = json.loads(message.tool_calls[0].arguments)
    return result


def test_values_are_typed_from_the_schema() -> None:
    args = _args(
        "<tool_call>get_weather<arg_key>city</arg_key><arg_value> 42 </arg_value>"
        "<arg_key>days</arg_key><arg_value>3</arg_value>"
        "<arg_key>note</arg_key><arg_value>null</arg_value>"
        "<arg_key>code</arg_key><arg_value>7</arg_value>"
        "<arg_key>unit</arg_key><arg_value>c</arg_value></tool_call>"
    )
    assert args == {"city": " 42 ", "days": 3, "note": None, "code": 7, "unit": "c"}


def test_mixed_type_keeps_text_that_is_not_an_allowed_type() -> None:
    args = _args(
        "<tool_call>get_weather<arg_key>code</arg_key><arg_value>A-7</arg_value></tool_call>"
    )
    assert args == {"code": "A-7"}


def test_string_values_stream_as_they_arrive() -> None:
    parser = glm47.parser(TOOLS, prompt="</think>")
    parser.feed("<tool_call>write<arg_key>body</arg_key><arg_value>")
    piece = parser.feed("def main():")
    assert [(d.kind, d.text) for d in piece] == [("tool_call", "def main():")]
    assert [d.text for d in parser.feed('\n    print("hi")')] == ['\\n    print(\\"hi\\")']


def test_tool_call_inside_reasoning_ends_the_reasoning() -> None:
    message = parse_every_way(
        glm47,
        "Need weather.<tool_call>get_weather<arg_key>city</arg_key>"
        "<arg_value>Paris</arg_value></tool_call>",
        TOOLS,
        "<think>",
    )
    assert message.reasoning_content == "Need weather."
    assert message.content is None
    assert json.loads(message.tool_calls[0].arguments) == {"city": "Paris"}


def test_missing_arg_value_tag_recovers_the_value() -> None:
    # vllm#49248: the model sometimes omits <arg_value>.
    args = _args(
        "<tool_call>get_weather<arg_key>city</arg_key> how many people</arg_value></tool_call>"
    )
    assert args == {"city": "how many people"}


def test_unclosed_call_at_the_end_is_closed() -> None:
    message = parse_every_way(
        glm47, "<tool_call>write<arg_key>body</arg_key><arg_value>abc", TOOLS, "</think>"
    )
    assert [(c.name, c.arguments) for c in message.tool_calls] == [("write", '{"body": "abc"}')]


def test_unfinished_name_at_the_end_is_content() -> None:
    message = parse_every_way(glm47, "Sure.<tool_call>get_wea", TOOLS, "</think>")
    assert message.tool_calls == () and message.content == "Sure.<tool_call>get_wea"


def test_no_end_of_thinking_stays_reasoning() -> None:
    message = parse_every_way(glm47, "Thinking and then stopped", TOOLS, "<think>")
    assert message.reasoning_content == "Thinking and then stopped"
    assert message.content is None


def test_zero_argument_call_and_indices_in_call_order() -> None:
    text = (
        "<tool_call>write\n</tool_call>\n<tool_call>get_weather\n<arg_key>city</arg_key>\n"
        "<arg_value>Oslo</arg_value>\n</tool_call>\n<tool_call>write</tool_call>"
    )
    message = parse_every_way(glm45, text, TOOLS, "<|assistant|>")
    assert [(c.index, c.name, c.arguments) for c in message.tool_calls] == [
        (0, "write", "{}"),
        (1, "get_weather", '{"city": "Oslo"}'),
        (2, "write", "{}"),
    ]


def test_glm45_thinking_opened_by_the_model() -> None:
    message = parse_every_way(
        glm45, "\n<think>\nPlan.\n</think>\nParis is the capital.", None, "<|assistant|>"
    )
    assert message.reasoning_content == "Plan."
    assert message.content == "Paris is the capital."


def test_a_name_is_sent_once_and_complete_whatever_the_split() -> None:
    text = "<tool_call>get_weather<arg_key>city</arg_key><arg_value>Rome</arg_value></tool_call>"
    deltas = stream(glm47, list(text), TOOLS, "</think>")
    names = [d.name for d in deltas if d.name is not None]
    assert names == ["get_weather"]
    assert collect(deltas).tool_calls[0].arguments == '{"city": "Rome"}'
