"""The GLM path through a remote worker: glmserve (``engine = "remote"``) in front of a
real llama-server serving the scripted GLM-4.7 model (tests/support/scripted_glm.py).

The worker runs the model with no chat template or parser of its own: glmserve renders
and tokenizes the prompt with the same GGUF (``tokenizer = ...``), sends token IDs,
detokenizes what comes back and parses it with its GLM parser (docs/remote-engine.md).
So reasoning, tool calls streamed with ``tool_stream``, the second round's answer and
the Anthropic surface must come out exactly as on the embedded engine: the same
requests go to an embedded server of the same GGUF and the chunks are compared, besides
the exact values tests/e2e/test_glm_format.py and test_anthropic.py assert.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest
from zai import ZaiClient

from tests.conftest import Server
from tests.support.scripted_glm import Script, build_scripted_glm
from tests.support.workers import Worker, llama_server_worker

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather of a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city"],
        },
    },
}
REASONING = "The user wants the weather in Paris. I will call the tool."
ROUND_ONE = (
    f"{REASONING}</think><tool_call>get_weather<arg_key>city</arg_key>"
    '<arg_value>Paris, "Île-de-France"</arg_value><arg_key>days</arg_key>'
    "<arg_value>2</arg_value></tool_call><|observation|>"
)
ROUND_TWO = "It is 21 degrees.</think>It is 21 °C in Paris.<|user|>"
ARGUMENTS = '{"city": "Paris, \\"Île-de-France\\"", "days": 2}'
QUESTION = {"role": "user", "content": "What is the weather in Paris?"}
CONTEXT = 2048  # glmserve's context_size: one llama-server slot (ctx_size / parallel)


@pytest.fixture(scope="module")
def gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    scripts = [Script(ROUND_ONE), Script(ROUND_TWO, when="<tool_response>")]
    return build_scripted_glm(tmp_path_factory.mktemp("gguf") / "scripted-glm.gguf", scripts).path


@pytest.fixture(scope="module")
def worker(gguf: Path) -> Iterator[Worker]:
    # Two slots of CONTEXT tokens each: llama-server splits --ctx-size between them.
    with llama_server_worker(gguf, ctx_size=2 * CONTEXT, parallel=2) as w:
        yield w


def _server(tmp: Path, model: str) -> tuple[Server, Path]:
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "glm-4.7"\ncontext_size = {CONTEXT}\n{model}'
    )
    prompts = tmp / "prompts.jsonl"
    env = {"GLMSERVE_PROMPT_LOG": str(prompts)}  # the documented prompt log setting
    return Server(config, tmp / "server.log", env=env), prompts


@pytest.fixture(scope="module")
def remote(
    tmp_path_factory: pytest.TempPathFactory, gguf: Path, worker: Worker
) -> Iterator[tuple[Server, Path]]:
    model = (
        f'engine = "remote"\ntokenizer = "{gguf}"\n'
        f'[[models.workers]]\nurl = "{worker.base}"\nkind = "llama-server"\n'
    )
    server, prompts = _server(tmp_path_factory.mktemp("remote"), model)
    yield server, prompts
    server.stop()


@pytest.fixture(scope="module")
def embedded(tmp_path_factory: pytest.TempPathFactory, gguf: Path) -> Iterator[Server]:
    server, _ = _server(tmp_path_factory.mktemp("embedded"), f'gguf = "{gguf}"\n')
    yield server
    server.stop()


def _first_round(server: Server) -> list[Any]:
    client = ZaiClient(api_key="test-id.test-secret", base_url=server.zai_base)
    stream = client.chat.completions.create(
        model="glm-4.7",
        messages=[QUESTION],
        tools=[WEATHER],
        thinking={"type": "enabled"},
        stream=True,
        tool_stream=True,
    )
    return list(stream)


def _deltas(chunks: list[Any]) -> list[tuple[Any, ...]]:
    """What each chunk carries, without the ids and timestamps that differ per request."""
    out = []
    for chunk in chunks:
        choice = chunk.choices[0]
        d = choice.delta
        calls = tuple(
            (tc.index, tc.function.name, tc.function.arguments) for tc in d.tool_calls or []
        )
        out.append((d.reasoning_content, d.content, calls, choice.finish_reason))
    return out


def test_thinking_and_streamed_tool_call_parsed_from_the_worker(
    remote: tuple[Server, Path], embedded: Server
) -> None:
    server, prompts = remote
    chunks = _first_round(server)
    deltas = [c.choices[0].delta for c in chunks]
    reasoning = "".join(d.reasoning_content or "" for d in deltas)
    assert reasoning == REASONING
    assert "".join(d.content or "" for d in deltas) == ""
    calls = [tc for d in deltas for tc in (d.tool_calls or [])]
    assert calls[0].id and calls[0].function.name == "get_weather"
    assert [tc.function.name for tc in calls[1:] if tc.function.name] == []
    assert {tc.index for tc in calls} == {0}
    pieces = [tc.function.arguments or "" for tc in calls]
    assert len([p for p in pieces if p]) > 2  # arguments arrived incrementally
    assert "".join(pieces) == ARGUMENTS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    # Chunk for chunk what the embedded engine streams for the same request and model,
    # and the same token counts.
    local = _first_round(embedded)
    assert _deltas(chunks) == _deltas(local)
    usage, local_usage = chunks[-1].usage, local[-1].usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (
        local_usage.prompt_tokens,
        local_usage.completion_tokens,
    )

    second = ZaiClient(api_key="test-id.test-secret", base_url=server.zai_base)
    answer = second.chat.completions.create(
        model="glm-4.7",
        messages=[
            QUESTION,
            {
                "role": "assistant",
                "content": None,
                "reasoning_content": reasoning,
                "tool_calls": [
                    {
                        "id": calls[0].id,
                        "type": "function",
                        "index": 0,
                        "function": {"name": "get_weather", "arguments": "".join(pieces)},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": calls[0].id, "content": '{"temp": 21}'},
        ],
        tools=[WEATHER],
        thinking={"type": "enabled", "clear_thinking": False},
    )
    message = answer.choices[0].message
    assert message.content == "It is 21 °C in Paris."
    assert message.reasoning_content == "It is 21 degrees."
    assert answer.choices[0].finish_reason == "stop"

    seen = [json.loads(line) for line in prompts.read_text().splitlines()]
    assert seen[-1].endswith(
        "<|user|>What is the weather in Paris?<|assistant|>"
        f"<think>{REASONING}</think><tool_call>get_weather"
        '<arg_key>city</arg_key><arg_value>Paris, "Île-de-France"</arg_value>'
        "<arg_key>days</arg_key><arg_value>2</arg_value></tool_call>"
        '<|observation|><tool_response>{"temp": 21}</tool_response><|assistant|><think>'
    )


def test_anthropic_thinking_and_tool_use_through_the_worker(
    remote: tuple[Server, Path],
) -> None:
    server, _ = remote
    client = anthropic.Anthropic(api_key="any", base_url=f"{server.base}/api/anthropic")
    tool = {
        "name": "get_weather",
        "description": "Current weather of a city",
        "input_schema": WEATHER["function"]["parameters"],  # type: ignore[index]
    }
    with client.messages.stream(
        model="claude-opus-4-7",
        max_tokens=256,
        tools=[tool],  # type: ignore[list-item]
        messages=[QUESTION],  # type: ignore[list-item]
        thinking={"type": "enabled", "budget_tokens": 2048},
    ) as stream:
        kinds = [e.delta.type for e in stream if e.type == "content_block_delta"]
        first = stream.get_final_message()
    assert first.stop_reason == "tool_use"
    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    thinking, call = first.content
    assert thinking.type == "thinking" and thinking.thinking == REASONING
    assert thinking.signature
    assert call.type == "tool_use" and call.name == "get_weather"
    assert call.input == {"city": 'Paris, "Île-de-France"', "days": 2}
    assert kinds.count("input_json_delta") > 2  # the input arrives in pieces

    second = client.messages.create(
        model="claude-opus-4-7",
        max_tokens=256,
        tools=[tool],  # type: ignore[list-item]
        messages=[
            QUESTION,  # type: ignore[list-item]
            {"role": "assistant", "content": first.content},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": '{"temp": 21}'}
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert [(b.type, getattr(b, "text", None)) for b in second.content] == [
        ("thinking", None),
        ("text", "It is 21 °C in Paris."),
    ]
    assert second.content[0].thinking == "It is 21 degrees."  # type: ignore[union-attr]
