"""Strict tools under ``tool_choice: "auto"`` on a real model sampling at temperature 1.

The shared server's glm-4.7 is Gemma 3 270M (a base model) read with GLM's output
format. The user message shows it GLM tool calls to copy; at temperature 1 it copies
them with random mistakes (a word where the integer goes, a room the enum lacks, a
stray key). With ``strict: true`` the grammar takes over from the moment the model
writes ``<tool_call>``, so every call that comes back parses and fits the schema,
while the model stays free to write text instead (tool_choice auto).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jsonschema
from openai import OpenAI

from tests.conftest import Server

SCHEMA = {
    "type": "object",
    "properties": {
        "celsius": {"type": "integer"},
        "room": {"type": "string", "enum": ["kitchen", "bedroom", "hall"]},
        "eco": {"type": "boolean"},
    },
    "required": ["celsius", "room"],
    "additionalProperties": False,
}
EXAMPLES = "\n".join(
    f"<tool_call>set_heating<arg_key>celsius</arg_key><arg_value>{c}</arg_value>"
    f"<arg_key>room</arg_key><arg_value>{room}</arg_value></tool_call>"
    for c, room in ((21, "kitchen"), (18, "bedroom"), (23, "hall"), (19, "kitchen"))
)
PROMPT = f"Heating commands, one per line, in this exact format:\n{EXAMPLES}\n"


def _tool(strict: bool) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": "set_heating", "parameters": SCHEMA, "strict": strict},
    }


def _run(server: Server, *, strict: bool, n: int, parallel: bool) -> list[Any]:
    client = OpenAI(api_key="any", base_url=f"{server.base}/v1")

    def one(i: int) -> Any:
        return client.chat.completions.create(
            model="glm-4.7",
            messages=[{"role": "user", "content": PROMPT}],
            tools=[_tool(strict)],  # type: ignore[list-item]
            tool_choice="auto",
            temperature=1.0,
            seed=i,
            max_tokens=128,  # a call takes Gemma about 50 tokens: its tags are many pieces
            parallel_tool_calls=parallel,
        )

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(one, range(n)))


def _calls(replies: list[Any]) -> list[Any]:
    return [call for r in replies for call in (r.choices[0].message.tool_calls or [])]


def test_every_strict_call_under_auto_parses_and_validates(server: Server) -> None:
    """One call per reply (parallel_tool_calls false: the grammar ends after it); a
    call that max_tokens cut short (finish_reason length) is incomplete by definition
    and not counted."""
    replies = _run(server, strict=True, n=50, parallel=False)
    finished = [r for r in replies if r.choices[0].finish_reason == "tool_calls"]
    assert len(finished) >= 10  # the model does call (a test with no calls proves nothing)
    for reply in finished:
        (call,) = reply.choices[0].message.tool_calls
        assert call.function.name == "set_heating"
        jsonschema.validate(json.loads(call.function.arguments), SCHEMA)


def test_parallel_tool_calls_false_stops_after_the_first_call(server: Server) -> None:
    """Without strict tools no grammar ends the output: the serving layer stops it."""
    replies = _run(server, strict=False, n=8, parallel=False)
    called = [r for r in replies if r.choices[0].finish_reason == "tool_calls"]
    assert called
    for reply in called:
        assert len(reply.choices[0].message.tool_calls) == 1
