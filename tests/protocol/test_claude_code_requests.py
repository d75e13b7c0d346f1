"""What Claude Code 2.1.197 sends, parsed, translated and rendered through GLM-4.7's
template.

The fixtures in ``claude_code/`` are real requests captured with
scripts/anthropic_capture.py (how: claude_code/README.md), with long texts shortened.
Shapes Claude Code only sends from features the captures did not reach (the auto-mode
classifier's ``stop_sequences``, memory recall's structured output) are written here
from the Messages API's documentation instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from glmserve.catalog import builtin_spec
from glmserve.chat.template import ChatTemplate
from glmserve.config import HttpSettings
from glmserve.errors import GlmServeError
from glmserve.protocol.anthropic import parse_messages_request, to_chat_request
from glmserve.protocol.chat import ChatCompletionRequest, function_tools
from glmserve.serving.service import render_request
from tests.support.shared import glm_template

DEPTH = HttpSettings.max_json_depth  # the default [http] nesting limit

FIXTURES = Path(__file__).parent / "claude_code"
TEMPLATE = glm_template("glm-4.7")
CAPTURED = sorted(path.stem for path in FIXTURES.glob("*.json"))


def _fixture(name: str) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return fixture


def _chat(body: dict[str, Any]) -> ChatCompletionRequest:
    return to_chat_request(
        parse_messages_request(json.dumps(body).encode(), max_depth=DEPTH),
        "glm-4.7",
        max_depth=DEPTH,
    )


def _prompt(chat: ChatCompletionRequest) -> str:
    """The prompt glmserve renders on the Anthropic surface (coding: preserved thinking)."""
    spec = builtin_spec("glm-4.7")
    assert spec is not None
    template = ChatTemplate(TEMPLATE.read_text())
    return render_request(template, spec, chat, function_tools(chat), coding=True)


@pytest.mark.parametrize("name", CAPTURED)
def test_every_captured_request_is_served(name: str) -> None:
    fixture = _fixture(name)
    assert fixture["query"] == {"beta": "true"}
    assert "anthropic-beta" in fixture["headers"]
    body = fixture["body"]
    chat = _chat(body)
    assert chat.max_tokens == body["max_tokens"] and chat.stream is True
    assert [t.function.name for t in chat.tools or []] == [t["name"] for t in body["tools"]]
    prompt = _prompt(chat)
    # Every tool reaches the template with its schema as sent.
    for tool in body["tools"]:
        assert json.dumps(tool["input_schema"], ensure_ascii=False) in prompt
    # The billing block is dropped; the rest of the system prompt stays, first.
    assert "x-anthropic-billing-header" not in prompt
    assert chat.messages[0].role == "system"
    assert chat.messages[0].content == "\n\n".join(b["text"] for b in body["system"][1:])


def test_first_turn_renders_the_system_message_where_it_stands() -> None:
    body = _fixture("first_turn")["body"]
    assert [m["role"] for m in body["messages"]] == ["user", "system"]
    chat = _chat(body)
    assert [m.role for m in chat.messages] == ["system", "user", "system"]
    agents = body["messages"][1]["content"]
    assert chat.messages[2].content == agents
    prompt = _prompt(chat)
    # After the user's turn, as GLM's template writes a system turn, then the answer.
    assert prompt.endswith(f"Reply with one word: hello<|system|>{agents}<|assistant|><think>")
    # thinking "adaptive" turns GLM's thinking on; effort and context_management are
    # accepted and change nothing.
    assert body["thinking"] == {"type": "adaptive"}
    assert body["output_config"] == {"effort": "high"}
    assert body["context_management"]["edits"][0]["type"] == "clear_thinking_20251015"
    assert chat.thinking is not None and chat.thinking.type == "enabled"
    assert chat.response_format is None and chat.reasoning_effort is None


def test_first_turn_tool_schemas_keep_every_feature() -> None:
    body = _fixture("first_turn")["body"]
    chat = _chat(body)
    schemas = {t.function.name: t.function.parameters for t in chat.tools or []}
    assert len(schemas) == 24
    agent = schemas["Agent"]
    assert agent is not None and agent["additionalProperties"] is False
    assert agent["properties"]["model"]["enum"] == ["sonnet", "opus", "haiku", "fable"]
    seen = json.dumps(list(schemas.values()))
    for keyword in ("anyOf", "const", "propertyNames", "exclusiveMinimum", "maxItems", "$schema"):
        assert f'"{keyword}"' in seen


def test_tool_round_carries_thinking_and_the_result() -> None:
    body = _fixture("tool_round")["body"]
    chat = _chat(body)
    assert [m.role for m in chat.messages] == ["system", "user", "system", "assistant", "tool"]
    assistant, result = chat.messages[3], chat.messages[4]
    assert assistant.reasoning_content == "Let me think." and assistant.content == ""
    assert assistant.tool_calls is not None
    call = assistant.tool_calls[0]
    assert (call.id, call.function.name) == ("toolu_capture01", "Write")
    assert result.tool_call_id == "toolu_capture01"
    assert isinstance(result.content, str) and result.content.startswith("File created")
    prompt = _prompt(chat)
    # Preserved thinking: the turn's reasoning is shown before its call.
    assert (
        "<|assistant|><think>Let me think.</think><tool_call>Write"
        "<arg_key>file_path</arg_key><arg_value>/tmp/cc/w2/out.txt</arg_value>"
    ) in prompt
    assert prompt.endswith(
        f"<|observation|><tool_response>{result.content}</tool_response><|assistant|><think>"
    )


def test_thinking_enabled_with_a_budget() -> None:
    body = _fixture("thinking_enabled")["body"]
    assert body["thinking"] == {"budget_tokens": 31999, "type": "enabled"}
    assert [m["role"] for m in body["messages"]] == ["user"]
    chat = _chat(body)
    assert chat.thinking is not None and chat.thinking.type == "enabled"
    assert _prompt(chat).endswith("<|assistant|><think>")


def test_thinking_disabled() -> None:
    body = _fixture("thinking_disabled")["body"]
    assert body["thinking"] == {"type": "disabled"} and "context_management" not in body
    chat = _chat(body)
    assert chat.thinking is not None and chat.thinking.type == "disabled"
    assert _prompt(chat).endswith("<|assistant|></think>")


def test_served_model_name_is_asked_as_is() -> None:
    body = _fixture("served_model_name")["body"]
    assert body["model"] == "glm-4.7" and body["max_tokens"] == 32000
    assert "context-1m-2025-08-07" not in _fixture("served_model_name")["headers"]["anthropic-beta"]
    assert _chat(body).thinking is not None


def test_compact_request_with_merged_turns() -> None:
    body = _fixture("compact")["body"]
    chat = _chat(body)
    # Claude Code merges a resumed session's turns: one assistant message holds
    # thinking, a call, more thinking and text; one user message holds the result and
    # text. The result goes first (a tool turn), then the user's text.
    roles = [m.role for m in chat.messages]
    assert roles == ["system", "user", "system", "assistant", "tool", "user", "assistant", "user"]
    assistant = chat.messages[3]
    assert assistant.reasoning_content == "Let me think.Let me think."
    assert assistant.content == "Done." and assistant.tool_calls is not None
    last = body["messages"][-1]["content"][-1]["text"]
    assert last.startswith("CRITICAL: Respond with TEXT ONLY.")
    assert _prompt(chat).endswith("<|assistant|><think>")


def test_structured_output_tool_and_enforcement_turn() -> None:
    body = _fixture("structured_output")["body"]
    chat = _chat(body)
    names = [t.function.name for t in chat.tools or []]
    assert "StructuredOutput" in names
    assert [m.role for m in chat.messages][-2:] == ["assistant", "user"]


def test_session_title_asks_for_json() -> None:
    # Interactive Claude Code names the session beside the first turn: no tools, no
    # thinking, the answer held to a JSON schema.
    body = _fixture("session_title")["body"]
    assert body["tools"] == [] and body["thinking"] == {"type": "disabled"}
    chat = _chat(body)
    assert chat.tools is None
    assert chat.response_format is not None and chat.response_format.json_schema is not None
    assert chat.response_format.json_schema.schema_ == body["output_config"]["format"]["schema"]
    assert _prompt(chat).endswith("examples above.<|assistant|></think>")


# --- shapes from the Messages API's documentation -----------------------------------


def _request(**fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-4-6", "max_tokens": 64, **fields}


HI = {"role": "user", "content": "hi"}


def test_output_config_format_is_the_response_format() -> None:
    schema = {
        "type": "object",
        "properties": {"selected_memories": {"type": "array", "items": {"type": "string"}}},
        "required": ["selected_memories"],
        "additionalProperties": False,
    }
    for fields in (
        {"output_config": {"format": {"type": "json_schema", "schema": schema}}},
        {"output_format": {"type": "json_schema", "schema": schema}},  # the beta's name
    ):
        chat = _chat(_request(messages=[HI], **fields))
        assert chat.response_format is not None and chat.response_format.type == "json_schema"
        assert chat.response_format.json_schema is not None
        assert chat.response_format.json_schema.schema_ == schema


def test_auto_mode_classifier_shape() -> None:
    # Claude Code's permission classifier: a short answer ended by a stop sequence.
    chat = _chat(
        _request(
            system=[{"type": "text", "text": "Classify.", "cache_control": {"type": "ephemeral"}}],
            messages=[HI, {"role": "user", "content": [{"type": "text", "text": "<block>"}]}],
            stop_sequences=["</block>"],
            temperature=0,
            thinking={"type": "disabled"},
        )
    )
    assert chat.stop_list == ("</block>",) and chat.temperature == 0


@pytest.mark.parametrize(
    ("system", "text"),
    [
        ("Be brief.", "Be brief."),
        ([{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}], "A"),
        ([{"type": "text", "text": "A"}, {"type": "text", "text": "B"}], "A\n\nB"),
    ],
)
def test_system_message_content_forms(system: Any, text: str) -> None:
    chat = _chat(_request(messages=[HI, {"role": "system", "content": system}]))
    assert chat.messages[-1].role == "system" and chat.messages[-1].content == text


def test_empty_system_message_is_dropped() -> None:
    chat = _chat(_request(messages=[HI, {"role": "system", "content": ""}]))
    assert [m.role for m in chat.messages] == ["user"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        (
            {
                "messages": [
                    HI,
                    {
                        "role": "system",
                        "content": [
                            {"type": "tool_use", "id": "t", "name": "f", "input": {}},
                        ],
                    },
                ]
            },
            "messages[1].content[0]",
        ),
        ({"messages": [{"role": "system", "content": "only"}]}, "only system"),
        ({"messages": [HI], "output_config": {"effort": "extreme"}}, "output_config.effort"),
        (
            {"messages": [HI], "output_config": {"format": {"type": "regex", "schema": {}}}},
            "output_config.format",
        ),
        (
            {
                "messages": [HI],
                "output_config": {"format": {"type": "json_schema", "schema": {}}},
                "output_format": {"type": "json_schema", "schema": {}},
            },
            "output_format and output_config.format",
        ),
        ({"messages": [HI], "context_management": {"edits": [{}]}}, "context_management"),
        ({"messages": [HI], "thinking": {"type": "sometimes"}}, "thinking.type"),
    ],
)
def test_still_refused(fields: dict[str, Any], words: str) -> None:
    with pytest.raises(GlmServeError) as caught:
        _chat(_request(**fields))
    assert caught.value.status == 400
    assert words in caught.value.message
