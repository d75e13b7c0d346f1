"""Thinking budgets and reasoning_tokens end to end: HTTP, the three SDKs, the real
engine on the scripted GLM model (tests/support/scripted_glm.py).

The default script is a long reasoning, ``</think>`` and an answer. When the budget
closes the thinking block, glmserve goes on from a prompt that holds the inserted
``</think>`` token: the scripted model's second script is chosen by that token and
writes the same answer. A limitation of the scripted model: it always writes a script
from the start, it cannot go on from the middle of one; the answer script stands for
"the model goes on to the answer". Token counts come from the builder (each script
piece is one token), not from a tokenizer.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest
from openai import OpenAI
from zai import ZaiClient

from tests.conftest import Server
from tests.support.scripted_glm import Script, ScriptedGlm, build_scripted_glm

# no one-character piece repeats (the builder would join it to the next piece)
REASONING = " ".join(f"step {i} the user asks for the sum so I keep adding" for i in range(25))
ANSWER = "The sum is 42."
CLOSING = " Time to answer now."
QUESTION = [{"role": "user", "content": "What is the sum?"}]
CALLS = (
    "<tool_call>add<arg_key>a</arg_key><arg_value>40</arg_value></tool_call>"
    "<tool_call>add<arg_key>a</arg_key><arg_value>2</arg_value></tool_call><|observation|>"
)
ADD = {
    "type": "function",
    "function": {
        "name": "add",
        "strict": True,
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}}},
    },
}


@dataclass(frozen=True)
class Scripted:
    server: Server
    model: ScriptedGlm
    config: Path


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scripted]:
    """One server, one scripted GGUF, three model codes: glm-4.7 with no closing
    sentence and a small answer minimum; glm-5 with a closing sentence and a default
    budget of 7; glm-4.7-flash with a context window smaller than the reasoning."""
    tmp = tmp_path_factory.mktemp("budget")
    model = build_scripted_glm(
        tmp / "scripted.gguf",
        [
            Script(f"{REASONING}</think>{ANSWER}<|user|>"),
            Script(CALLS, when="twocalls"),  # before the </think> one: thinking off has it
            Script(f"{ANSWER}<|user|>", when="</think>"),
        ],
    )
    config = tmp / "glmserve.toml"
    entry = f'gguf = "{model.path}"\nbatch_invariant = true\n'
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "glm-4.7"\n{entry}context_size = 2048\n'
        'thinking_closing = ""\nanswer_min_tokens = 8\n\n'
        f'[[models]]\ncode = "glm-5"\n{entry}context_size = 2048\n'
        f'thinking_closing = "{CLOSING}"\nthinking_budget = 7\n\n'
        f'[[models]]\ncode = "glm-4.7-flash"\n{entry}context_size = 256\n'
    )
    server = Server(config, tmp / "server.log")
    yield Scripted(server, model, config)
    server.stop()


def _reasoning_pieces(model: ScriptedGlm) -> list[bytes]:
    pieces = list(model.pieces[0])
    return pieces[: pieces.index(b"</think>")]


def _text(pieces: list[bytes]) -> str:
    return b"".join(pieces).decode().strip()


def _answer_tokens(model: ScriptedGlm) -> int:
    return model.completion_tokens[2]  # the answer's pieces and its end token


def test_without_a_budget_the_whole_reasoning_comes_back(
    scripted: Scripted,
) -> None:
    server, model = scripted.server, scripted.model
    client = ZaiClient(api_key="test-id.test-secret", base_url=server.zai_base)
    reply = client.chat.completions.create(model="glm-4.7", messages=QUESTION)
    message = reply.choices[0].message
    pieces = _reasoning_pieces(model)
    assert message.reasoning_content == _text(pieces)
    assert message.content == ANSWER
    usage = reply.usage.model_dump()
    assert usage["completion_tokens"] == model.completion_tokens[0]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == len(pieces)


@pytest.mark.parametrize("budget", [1, 5, 23])
def test_a_budget_of_n_gives_n_reasoning_tokens_then_the_answer_streamed(
    scripted: Scripted, budget: int
) -> None:
    server, model = scripted.server, scripted.model
    client = ZaiClient(api_key="test-id.test-secret", base_url=server.zai_base)
    chunks = list(
        client.chat.completions.create(
            model="glm-4.7",
            messages=QUESTION,
            stream=True,
            extra_body={"thinking": {"type": "enabled", "budget_tokens": budget}},
        )
    )
    assert len({c.id for c in chunks}) == 1  # one stream, however many legs
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join(d.reasoning_content or "" for d in deltas)
    assert reasoning == _text(_reasoning_pieces(model)[:budget])
    assert "".join(d.content or "" for d in deltas) == ANSWER
    assert chunks[-1].choices[0].finish_reason == "stop"
    usage = chunks[-1].usage.model_dump()
    assert usage["completion_tokens_details"]["reasoning_tokens"] == budget
    assert usage["completion_tokens"] == budget + 1 + _answer_tokens(model)  # + </think>


def test_openai_sdk_default_budget_closing_sentence_and_effort_none(
    scripted: Scripted,
) -> None:
    server, model = scripted.server, scripted.model
    client = OpenAI(api_key="any", base_url=f"{server.base}/v1")
    reply = client.chat.completions.create(model="glm-5", messages=QUESTION)  # type: ignore[arg-type]
    message = reply.choices[0].message.model_dump()
    assert message["reasoning_content"] == _text(_reasoning_pieces(model)[:7]) + CLOSING
    assert message["content"] == ANSWER
    assert reply.usage is not None and reply.usage.completion_tokens_details is not None
    reasoning_tokens = reply.usage.completion_tokens_details.reasoning_tokens
    assert reasoning_tokens is not None and reasoning_tokens > 7  # the closing sentence's too
    assert reply.usage.completion_tokens == reasoning_tokens + 1 + _answer_tokens(model)

    off = client.chat.completions.create(
        model="glm-5",
        messages=QUESTION,  # type: ignore[arg-type]
        reasoning_effort="none",  # type: ignore[arg-type]
    )
    assert off.choices[0].message.content == ANSWER
    assert off.usage is not None and off.usage.completion_tokens_details is not None
    assert off.usage.completion_tokens_details.reasoning_tokens == 0


def test_anthropic_budget_tokens(scripted: Scripted) -> None:
    server, model = scripted.server, scripted.model
    client = anthropic.Anthropic(api_key="any", base_url=f"{server.base}/api/anthropic")
    with client.messages.stream(
        model="glm-4.7",
        max_tokens=1024,
        messages=QUESTION,  # type: ignore[arg-type]
        thinking={"type": "enabled", "budget_tokens": 9},
    ) as stream:
        message = stream.get_final_message()
    blocks = {b.type: b for b in message.content}
    assert blocks["thinking"].thinking == _text(_reasoning_pieces(model)[:9])  # type: ignore[union-attr]
    assert blocks["text"].text == ANSWER  # type: ignore[union-attr]
    assert message.usage.output_tokens == 9 + 1 + _answer_tokens(model)


def test_max_tokens_bounds_everything_and_the_answer_keeps_its_minimum(
    scripted: Scripted,
) -> None:
    server, model = scripted.server, scripted.model
    # budget 100, but max_tokens 14 with an answer minimum of min(8, 14 // 2):
    # 14 - 1 (</think>) - 7 = 6
    body = {
        "model": "glm-4.7",
        "messages": QUESTION,
        "max_tokens": 14,
        "thinking": {"type": "enabled", "budget_tokens": 100},
    }
    reply = httpx.post(f"{server.zai_base}chat/completions", json=body, timeout=60).json()
    assert reply["usage"]["completion_tokens_details"]["reasoning_tokens"] == 6
    assert reply["usage"]["completion_tokens"] == 6 + 1 + _answer_tokens(model) <= 14
    assert reply["choices"][0]["message"]["reasoning_content"] == _text(
        _reasoning_pieces(model)[:6]
    )
    assert reply["choices"][0]["message"]["content"] == ANSWER
    assert reply["choices"][0]["finish_reason"] == "stop"


def test_context_window_full_is_not_length(scripted: Scripted) -> None:
    server, model = scripted.server, scripted.model
    assert model.completion_tokens[0] > 256  # the reasoning alone overflows glm-4.7-flash
    url = f"{server.zai_base}chat/completions"
    full = httpx.post(url, json={"model": "glm-4.7-flash", "messages": QUESTION}, timeout=60)
    body = full.json()
    assert body["choices"][0]["finish_reason"] == "model_context_window_exceeded"
    assert body["usage"]["total_tokens"] == 256
    short = {"model": "glm-4.7-flash", "messages": QUESTION, "max_tokens": 10}
    body = httpx.post(url, json=short, timeout=60).json()
    assert body["choices"][0]["finish_reason"] == "length"


def test_reasoning_tokens_and_user_id_reach_the_ledger(
    scripted: Scripted,
) -> None:
    server, model = scripted.server, scripted.model
    for user, budget in (("end-user-42", 3), ("end-user-42", 4), ("someone-else", 6)):
        body = {
            "model": "glm-4.7",
            "messages": QUESTION,
            "user_id": user,
            "thinking": {"type": "enabled", "budget_tokens": budget},
        }
        reply = httpx.post(f"{server.zai_base}chat/completions", json=body, timeout=60).json()
        assert reply["usage"]["completion_tokens_details"]["reasoning_tokens"] == budget
    rows = _usage(scripted.config, "--user", "end-user-42")
    assert [(r["model"], r["requests"], r["reasoning_tokens"]) for r in rows] == [("glm-4.7", 2, 7)]
    assert rows[0]["completion_tokens"] == 7 + 2 * (1 + _answer_tokens(model))


def _usage(config: Path, *args: str) -> list[dict[str, Any]]:
    """``glmserve usage --json`` on the server's database; the ledger is written when a
    response is over, just after the client has it: poll briefly."""
    for _ in range(50):
        out = subprocess.run(
            [sys.executable, "-m", "glmserve", "usage", "--config", str(config), "--json", *args],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        rows: list[dict[str, Any]] = json.loads(out)
        if rows and sum(r["requests"] for r in rows) >= 2:
            return rows
        time.sleep(0.2)
    return rows


def test_strict_calls_under_auto_and_parallel_tool_calls_false_streamed(
    scripted: Scripted,
) -> None:
    """The script writes two calls (thinking off, ``twocalls`` selects it). ``add`` is
    strict: from ``<tool_call>`` on, a grammar leg goes on from the model's own tokens
    (a tape token's successor does not depend on the prompt), so both calls come back
    as written; with parallel_tool_calls false the output ends after the first."""
    server = scripted.server
    client = OpenAI(api_key="any", base_url=f"{server.base}/v1")
    for parallel, expected in ((True, ['{"a": 40}', '{"a": 2}']), (False, ['{"a": 40}'])):
        chunks = list(
            client.chat.completions.create(
                model="glm-4.7",
                messages=[{"role": "user", "content": "twocalls please"}],  # type: ignore[list-item]
                tools=[ADD],  # type: ignore[list-item]
                stream=True,
                parallel_tool_calls=parallel,
                extra_body={"thinking": {"type": "disabled"}},
            )
        )
        assert len({c.id for c in chunks}) == 1
        calls: dict[int, str] = {}
        for chunk in chunks:
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                calls[call.index] = calls.get(call.index, "") + (call.function.arguments or "")
        assert list(calls.values()) == expected
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
