"""The terminal chat's pieces that need no server: folding a stream into a turn, the
request it sends, and where streamed Markdown is cut into finished blocks."""

from __future__ import annotations

import io

from glmserve.terminal.client import Turn
from glmserve.terminal.conversation import Conversation
from glmserve.terminal.view import PlainView, split_finished


def _chunk(**delta: object) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": delta}]}


def test_a_streamed_turn_with_a_tool_call_in_pieces() -> None:
    turn = Turn()
    chunks = [
        _chunk(role="assistant", reasoning_content="Need "),
        _chunk(reasoning_content="weather."),
        _chunk(tool_calls=[{"index": 0, "id": "call_1", "type": "function",
                            "function": {"name": "get_weather", "arguments": ""}}]),
        _chunk(tool_calls=[{"index": 0, "function": {"arguments": '{"city": '}}]),
        _chunk(tool_calls=[{"index": 0, "function": {"arguments": '"Paris"}'}}]),
        {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}],
         "usage": {"prompt_tokens": 9, "completion_tokens": 5}},
    ]  # fmt: skip
    kinds = [d.kind for c in chunks for d in turn.add(c)]
    assert kinds == ["reasoning", "reasoning", "tool_call", "tool_call", "tool_call"]
    assert turn.finish_reason == "tool_calls" and turn.usage == {
        "prompt_tokens": 9,
        "completion_tokens": 5,
    }
    assert turn.message() == {
        "role": "assistant",
        "content": "",
        "reasoning_content": "Need weather.",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    out = io.StringIO()
    view = PlainView(out)
    view.end(turn)
    assert out.getvalue() == '[tool call] get_weather {"city": "Paris"}\n'


def test_the_request_keeps_reasoning_and_says_how_thinking_is_set() -> None:
    conversation = Conversation("glm-4.7", system="Be brief.")
    conversation.messages = [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "Hello", "reasoning_content": "Greet."},
    ]
    body = conversation.body()
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["messages"][2]["reasoning_content"] == "Greet."
    assert body["thinking"] == {"type": "enabled", "clear_thinking": False}
    assert "tools" not in body and "tool_stream" not in body
    conversation.thinking, conversation.keep_reasoning = False, False
    conversation.tools = [{"type": "function", "function": {"name": "f"}}]
    body = conversation.body()
    assert body["thinking"] == {"type": "disabled", "clear_thinking": True}
    assert body["tool_stream"] is True


def test_pending_calls_are_those_without_a_result() -> None:
    calls = [{"id": "a", "function": {"name": "f"}}, {"id": "b", "function": {"name": "g"}}]
    conversation = Conversation("m")
    conversation.messages = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": calls},
    ]
    assert [c["id"] for c in conversation.pending_calls()] == ["a", "b"]
    conversation.messages.append({"role": "tool", "tool_call_id": "a", "content": "1"})
    assert [c["id"] for c in conversation.pending_calls()] == ["b"]
    conversation.messages.append({"role": "tool", "tool_call_id": "b", "content": "2"})
    assert conversation.pending_calls() == []


def test_markdown_is_cut_at_blank_lines_outside_code_fences() -> None:
    assert split_finished("One.\n\nTwo is gro") == ("One.\n\n", "Two is gro")
    assert split_finished("No blank line yet\n") == ("", "No blank line yet\n")
    fenced = "Code:\n\n```py\na = 1\n\nb = 2\n"
    assert split_finished(fenced) == ("Code:\n\n", "```py\na = 1\n\nb = 2\n")
    closed = fenced + "```\nAfter"
    assert split_finished(closed) == (fenced + "```\n", "After")
    assert split_finished("partial line\n\nstill writ") == ("partial line\n\n", "still writ")
