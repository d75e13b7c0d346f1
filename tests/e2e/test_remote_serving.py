"""glmserve in front of a real llama-server worker (engine = "remote"), driven over
HTTP by the official Z.AI SDK: the same answers as the embedded engine, streaming,
cached tokens as the worker reports them, and a worker that is down at start-up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from zai import ZaiClient

from tests.conftest import Server
from tests.support.workers import Worker, free_port, llama_server_worker

MODEL = "gemma-3-270m"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
COUNT = [{"role": "user", "content": "Count from 1 to 300: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"}]


@pytest.fixture(scope="module")
def worker(gemma_gguf: Path) -> Iterator[Worker]:
    # Two slots of 2048 tokens: the served context below.
    with llama_server_worker(gemma_gguf, ctx_size=4096, parallel=2) as w:
        yield w


@pytest.fixture(scope="module")
def remote(
    tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path, worker: Worker
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("remote")
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "{MODEL}"\nengine = "remote"\ntokenizer = "{gemma_gguf}"\n'
        'context_size = 2048\nrouting = "prefix"\n'
        f'[[models.workers]]\nurl = "{worker.base}"\nkind = "llama-server"\n\n'
        # nothing listens there: not an error at start-up, a 1234 per request
        f'[[models]]\ncode = "glm-4.7"\nengine = "remote"\ntokenizer = "{gemma_gguf}"\n'
        "context_size = 2048\n"
        f'[[models.workers]]\nurl = "http://127.0.0.1:{free_port()}"\nkind = "llama-server"\n'
    )
    srv = Server(config, tmp / "server.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def client(remote: Server) -> ZaiClient:
    return ZaiClient(api_key="test-id.test-secret", base_url=remote.zai_base)


def test_non_stream_answers_as_the_embedded_engine(client: ZaiClient) -> None:
    response = client.chat.completions.create(model=MODEL, messages=QUESTION, do_sample=False)
    choice = response.choices[0]
    # tests/e2e/test_zai_sdk.py gets the same answer from the embedded engine.
    assert choice.message.content == "The capital of France is Paris."
    assert choice.finish_reason == "stop"
    usage = response.usage
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens > 0


def test_stream_gives_the_same_text_and_the_worker_reuses_the_prompt(client: ZaiClient) -> None:
    whole = client.chat.completions.create(
        model=MODEL, messages=COUNT, do_sample=False, max_tokens=24
    )
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=COUNT, do_sample=False, max_tokens=24, stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].choices[0].finish_reason == "length"
    usage = chunks[-1].usage
    assert usage.completion_tokens == 24
    # The same prompt again: llama-server reuses its cache and says how much.
    assert 0 < usage.prompt_tokens_details.cached_tokens <= usage.prompt_tokens


def test_a_worker_down_at_start_gives_1234_per_request(remote: Server, worker: Worker) -> None:
    # `glmserve serve` printed each worker's health at start.
    assert f"worker {worker.base} (llama-server): up" in remote.output()
    assert "(llama-server): down (" in remote.output()
    body = {"model": "glm-4.7", "messages": QUESTION, "max_tokens": 5}
    r = httpx.post(f"{remote.zai_base}chat/completions", json=body, timeout=60)
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "1234"


def test_metrics_have_a_series_per_worker(
    client: ZaiClient, remote: Server, worker: Worker
) -> None:
    client.chat.completions.create(model=MODEL, messages=QUESTION, do_sample=False)
    text = httpx.get(f"{remote.base}/metrics", timeout=10).text
    samples = {
        (s.name, s.labels.get("model"), s.labels.get("worker")): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    live = (MODEL, worker.base)
    assert samples[("glmserve_worker_up", *live)] == 1.0
    assert samples[("glmserve_worker_routed_requests_total", *live)] >= 1
    assert samples[("glmserve_worker_prompt_tokens_total", *live)] > 0
    assert samples[("glmserve_worker_generation_tokens_total", *live)] > 0
    assert samples[("glmserve_worker_in_flight", *live)] == 0
    # The model whose only worker is down: routed to (and failing) or probed down.
    dead = [k for k in samples if k[0] == "glmserve_worker_up" and k[1] == "glm-4.7"]
    assert len(dead) == 1
