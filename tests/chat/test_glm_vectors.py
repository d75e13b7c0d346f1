"""Every vLLM GLM parser test vector (tests/support/shared.py finds them), whole and streamed.

Each record runs through our parser whole, in chunks of 1 to 8 characters, in random
splits and (for streaming records) in the record's own deltas; all must give the same
message, and that message must meet the record's expectations. Where we deliberately
differ from vLLM, ``DIFFERENCES`` says how and the test checks our documented outcome
instead (docs/glm-format.md explains why). The differences are:

- whitespace at the edges of content and reasoning is format, not text (the templates
  strip it when rendering history), so expected content is compared stripped;
- an empty part is absent (None), never "";
- text between and after tool calls is content (vLLM's non-stream parser drops it);
- the parser also reads ``<think>`` blocks (vLLM runs a separate reasoning parser);
- a call to an undeclared tool is content, not a call; records that call tools they do
  not declare are run with those tools declared (schema-less) and separately checked;
- an unclosed ``<tool_call>`` at the end is a call when its name is complete, and
  reasoning without ``</think>`` stays reasoning (streamed text cannot be taken back).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from glmserve.chat import glm45, glm47
from glmserve.chat.output import ParsedMessage, collect
from glmserve.chat.schema import ANY, convert_value
from tests.chat.glm_helpers import parse_every_way, stream
from tests.support.shared import shared_path

VECTORS = shared_path("glm", "vectors")


def _records(name: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = json.loads((VECTORS / name).read_text())
    return records


def _id(record: dict[str, Any]) -> str:
    return record["source"].split("::", 1)[1]


TOOL_RECORDS = _records("vllm_glm4_moe_tool_parser.json") + _records(
    "vllm_glm47_moe_tool_parser.json"
)
REASONING_RECORDS = _records("vllm_glm45_reasoning_parser.json") + _records(
    "vllm_glm47_reasoning_parser.json"
)

# Records whose expected values we deliberately do not reproduce, and what we give.
DIFFERENCES: dict[str, dict[str, Any]] = {
    "test_extract_tool_calls_with_thinking_tags": {
        "why": "one parser reads reasoning and calls: <think> is reasoning, not content",
        "content": "I will help you get the weather.",
        "reasoning": "I want to get the weather.",
    },
    "test_extract_tool_calls_mixed_content": {
        "why": "text between calls is content (vLLM non-stream drops it, its stream keeps it)",
        "content": "I will help you get the weather info.\n\n\n\n"
        "meaningwhile, I will also check the weather in Shanghai.",
    },
    "test_extract_tool_calls_incomplete_tool_call": {
        "why": "an unclosed call whose name is complete is closed with what was parsed",
        "content": None,
        "tools_called": True,
        "tool_calls": [
            {"name": "get_weather", "arguments": {"city": "Beijing", "date": "2025-08-01"}}
        ],
    },
    "test_reasoning[only_open_tag]": {
        "why": "no </think> before the end: reasoning (as vLLM's own streaming gives)",
        "reasoning": "This is a reasoning section",
        "content": None,
    },
}


def _tools_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    given = record["input"].get("tools") or record["input"].get("tools_responses_api") or []
    return list(given)


def _text_of(inp: dict[str, Any]) -> tuple[str, list[str] | None]:
    """The model output and, for streaming records, the record's own deltas."""
    if "model_output" in inp:
        return inp["model_output"], None
    if "deltas" in inp:
        return "".join(inp["deltas"]), list(inp["deltas"])
    if "current_text_stages" in inp:
        stages = inp["current_text_stages"]
        pieces = [b[len(a) :] for a, b in zip(["", *stages], stages, strict=False)]
        return stages[-1], pieces
    return inp["text"], None


def _called_names(text: str) -> set[str]:
    return {m.strip() for m in re.findall(r"<tool_call>([^\n<]*)", text) if m.strip()}


def _declare(tools: list[dict[str, Any]], names: set[str]) -> list[dict[str, Any]]:
    declared = {(t.get("function") or t)["name"] for t in tools}
    extra = [
        {"type": "function", "function": {"name": n, "parameters": {}}}
        for n in sorted(names - declared)
    ]
    return tools + extra


def _module(record: dict[str, Any]) -> Any:
    parser = record["input"].get("parser", "")
    return glm47 if str(parser).startswith("glm47") else glm45


@pytest.mark.parametrize("record", TOOL_RECORDS, ids=_id)
def test_tool_vector(record: dict[str, Any]) -> None:
    inp, expected = record["input"], record["expected"]
    name = _id(record).split("(")[0].strip()
    mode = inp.get("mode")
    if mode == "unit":
        _check_value_cases(expected["cases"])
        return
    if mode == "adjust_request":
        pytest.skip(
            "vLLM request plumbing (skip_special_tokens): our engine always hands special "
            "tokens to the parser as text, see tests/engine/test_glm_tokens.py"
        )
    if mode == "streaming_custom":
        _check_prefix_name_not_emitted(record)
        return
    text, own_deltas = _text_of(inp)
    tools = _declare(_tools_of(record), _called_names(text))
    module = _module(record)
    prompt = "</think>"  # tool vectors start as content
    message = parse_every_way(module, text, tools, prompt)
    if own_deltas is not None:
        assert collect(stream(module, own_deltas, tools, prompt)) == message
    _check_tool_expectations(name, message, expected, module, text, tools, own_deltas)


def _check_value_cases(cases: list[list[str]]) -> None:
    # vLLM's _format_nonstring_value: untyped values become JSON; Python literals map.
    for raw, want in cases:
        value = convert_value(raw, ANY)
        shown = json.dumps(value)
        assert shown == want or want.startswith(shown), (raw, want, shown)


def _check_prefix_name_not_emitted(record: dict[str, Any]) -> None:
    # vLLM rewrites previous_text between calls; our input is append-only, so only the
    # point of the record applies: "get", a prefix of a tool's name, is never a call.
    tools = _tools_of(record) or [
        {"type": "function", "function": t} for t in record["input"]["tools_responses_api"]
    ]
    text = "<tool_call>get<arg_key>city</arg_key><arg_value>Beijing</arg_value></tool_call>"
    message = parse_every_way(glm47, text, tools, "</think>")
    assert message.tool_calls == ()
    assert message.content == text  # an undeclared call is content, verbatim


def _args(message: ParsedMessage) -> list[dict[str, Any]]:
    return [json.loads(c.arguments) for c in message.tool_calls]


def _check_tool_expectations(
    name: str,
    message: ParsedMessage,
    expected: dict[str, Any],
    module: Any,
    text: str,
    tools: list[dict[str, Any]],
    own_deltas: list[str] | None,
) -> None:
    differs = DIFFERENCES.get(name, {})
    want = {**expected, **{k: v for k, v in differs.items() if k != "why"}}
    args = _args(message)
    names = [c.name for c in message.tool_calls]
    for key, value in want.items():
        if key in ("note", "assertion", "result_not_none", "result.tool_calls_not_none"):
            continue  # descriptive, or "no exception": parsing above already proved it
        if key == "tools_called":
            assert bool(message.tool_calls) is value
        elif key == "content":
            stripped = value.strip() if isinstance(value, str) else None
            assert message.content == (stripped or None)
        elif key == "reasoning":
            assert message.reasoning_content == value
        elif key == "tool_calls" and isinstance(value, list):
            assert names == [c["name"] for c in value]
            for got, call in zip(args, value, strict=True):
                if "arguments" in call:
                    assert got == call["arguments"]
                else:
                    assert json.dumps(got) == call["arguments_raw"]
        elif key == "tool_calls" and isinstance(value, dict):
            for index, call in value.items():
                if "name" in call:
                    assert names[int(index)] == call["name"]
                assert args[int(index)] == call["joined_argument_fragments"]
        elif key in ("tool_calls_len", "prev_tool_call_arr_len", "streamed_args_for_tool_len"):
            assert len(names) == value
        elif key in ("tool_calls_len_gte", "prev_tool_call_arr_len_gte"):
            assert len(names) >= value
        elif key in ("tool_calls[0].name", "prev_tool_call_arr[0].name"):
            assert names[0] == value
        elif key in ("prev_tool_call_arr[0].arguments", "streamed_args_for_tool[0]"):
            if isinstance(value, dict):
                assert args[0] == value.get("parsed", value)
            else:  # "valid JSON with key 'message' ..."
                assert "world" in args[0]["message"]
        elif key == "streamed_args_for_tool[0] == prev_tool_call_arr[0].arguments":
            pass  # one arguments string by construction: parse_every_way checks the joins
        elif key == "arguments" and isinstance(value, list):
            assert args == value
        elif key == "arguments":  # {"a": "int|float (42)", ...}
            assert args[0] == {"operation": "add", "a": 42, "b": 3.14}
        elif key == "types":
            kinds = {k: type(v).__name__ for k, v in args[0].items()}
            assert kinds == value
        elif key in ("delta.content", "first_delta.content"):
            first = stream(module, own_deltas or [text], tools, "</think>")[0]
            assert first.kind == "content" and first.text == value.strip()
        elif key == "joined_content_contains":
            for part in [value] if isinstance(value, str) else value:
                assert message.content is not None and part in message.content
        elif key == "argument_fragment_count_gte":
            deltas = stream(module, own_deltas or [text], tools, "</think>")
            assert sum(d.kind == "tool_call" for d in deltas) >= value
        elif key == "final_arguments_contains":
            assert args[0]["file_path"] == value["file_path"]
            assert value["content_contains"] in args[0]["content"]
        elif key == "raw_arguments_contains_literal":
            assert all(s in message.tool_calls[0].arguments for s in value)
        elif key == "raw_arguments_must_not_contain":
            assert value not in message.tool_calls[0].arguments
        elif key == "api_key_type":
            assert isinstance(args[0]["api_key"], str)
        elif key == "streamed_args_is_valid_json":
            assert value is True  # parse_every_way json-loaded every call
        elif key == "concatenated_argument_fragments":
            assert args[0] == value
        elif key == "invariant":
            deltas = stream(module, own_deltas or [text], tools, "</think>")
            pieces = [d.text for d in deltas if d.kind == "tool_call" and d.text]
            assert not any(p.startswith("{") for p in pieces[1:])
        else:
            raise AssertionError(f"expectation {key!r} is not checked")


def test_undeclared_tools_are_content_not_calls() -> None:
    # Where vLLM emits any name the model writes, a name must be declared to be a call.
    text = (
        "<tool_call>get_current_weather\n<arg_key>city</arg_key>\n"
        "<arg_value>Dallas</arg_value>\n</tool_call>"
    )
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    message = parse_every_way(glm45, text, tools, "</think>")
    assert message.tool_calls == ()
    assert message.content == text


@pytest.mark.parametrize("record", REASONING_RECORDS, ids=_id)
def test_reasoning_vector(record: dict[str, Any]) -> None:
    inp, expected = record["input"], record["expected"]
    module = _module(record)
    if "token_ids_of" in inp:
        # is_reasoning_end on a whole prompt: is the last assistant turn still thinking?
        turn = inp["token_ids_of"].rsplit("<|assistant|>", 1)[1]
        parser = module.parser(None, prompt="<|assistant|>")
        parser.feed(turn)
        assert parser.in_reasoning is not expected["is_reasoning_end"]
        return
    # glm45: the prompt ends at <|assistant|> and the model opens <think> itself;
    # glm47: the template prefilled <think>.
    prompt = "<think>" if module is glm47 else "<|assistant|>"
    message = parse_every_way(module, inp["model_output"], None, prompt)
    want = {**expected, **DIFFERENCES.get(_id(record), {})}
    assert message.reasoning_content == (want["reasoning"] or None)  # "" is absent
    assert message.content == want["content"]
    # is_reasoning_end(output_ids): vLLM's scheduling hint; ours is in_reasoning.
    parser = module.parser(None, prompt=prompt)
    parser.feed(inp["model_output"])
    end = expected.get("is_reasoning_end(output_ids)")
    if module is glm47 and end is not None:
        assert parser.in_reasoning is not end
