"""glmserve in front of a real vLLM (on CPU) serving a tiny GLM-4 MoE model, driven by
the Z.AI SDK: the GLM template and tokenizer on the gateway, a tool call forced by a
grammar that vLLM enforces and glmserve's GLM parser reads back, and cached tokens as
vLLM reports them. The weights are random: no test asserts what free text says."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from zai import ZaiClient

from tests.conftest import Server
from tests.support.tiny_glm_moe import tiny_glm_moe_dir
from tests.support.workers import Worker, vllm_worker

MODEL = "glm-4.7"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "enum": ["Paris", "London"]}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return tiny_glm_moe_dir()


@pytest.fixture(scope="module")
def worker(model_dir: Path) -> Iterator[Worker]:
    with vllm_worker(model_dir) as w:
        yield w


@pytest.fixture(scope="module")
def remote(
    tmp_path_factory: pytest.TempPathFactory, model_dir: Path, worker: Worker
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("remote-vllm")
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "{MODEL}"\nengine = "remote"\ntokenizer = "{model_dir}"\n'
        "context_size = 2048\ndefault_max_tokens = 64\n"
        f'[[models.workers]]\nurl = "{worker.base}"\nkind = "vllm"\nmodel = "{worker.model}"\n'
    )
    srv = Server(config, tmp / "server.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(remote: Server) -> ZaiClient:
    return ZaiClient(api_key="test-id.test-secret", base_url=remote.zai_base)


def test_a_forced_tool_call_is_enforced_by_vllm_and_parsed_by_glmserve(
    client: ZaiClient,
) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        thinking={"type": "disabled"},
        max_tokens=64,
    )
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls", choice
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments)["city"] in ("Paris", "London")


def test_cached_tokens_as_vllm_reports_them(client: ZaiClient) -> None:
    system = {"role": "system", "content": "You answer questions about the weather. " * 30}
    usages = []
    for question in ("Is it sunny?", "Is it raining?"):
        response = client.chat.completions.create(
            model=MODEL,
            messages=[system, {"role": "user", "content": question}],
            max_tokens=4,
            thinking={"type": "disabled"},
        )
        usages.append(response.usage)
    assert usages[0].prompt_tokens > 100
    assert 0 < usages[1].prompt_tokens_details.cached_tokens < usages[1].prompt_tokens
