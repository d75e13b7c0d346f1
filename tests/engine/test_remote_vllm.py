"""The remote engine against a real vLLM (on CPU) serving a tiny GLM-4 MoE model in
Hugging Face format, with the model's tokenizer on the gateway: token-ID prompts,
streaming, cancel, cached tokens on a repeated prefix and a grammar-forced output."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from glmserve.engine.remote.engine import RemoteEngine
from glmserve.engine.remote.spec import RemoteSpec, WorkerSpec
from glmserve.engine.remote.tokenizer import HfTokenizer
from glmserve.engine.types import Generation, GenerationRequest, SamplingParams, TokenOut
from tests.support.tiny_glm_moe import tiny_glm_moe_dir
from tests.support.workers import Worker, vllm_worker

GREEDY = SamplingParams(temperature=0.0)
PROMPT = "[gMASK]<sop><|user|>\nWhat is the weather like in Paris today?<|assistant|>\n<think>"
LONG = "[gMASK]<sop><|system|>\n" + "You are a helpful assistant for the weather. " * 40


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return tiny_glm_moe_dir()


@pytest.fixture(scope="module")
def worker(model_dir: Path) -> Iterator[Worker]:
    with vllm_worker(model_dir) as w:
        yield w


@pytest.fixture(scope="module")
def engine(worker: Worker, model_dir: Path) -> Iterator[RemoteEngine]:
    spec = RemoteSpec(
        workers=(WorkerSpec(worker.base, "vllm", model=worker.model),),
        tokenizer=model_dir,
        context_size=2048,
    )
    eng = RemoteEngine(spec)
    yield eng
    eng.close()


async def generate(
    engine: RemoteEngine, prompt: str, max_tokens: int, **kw: object
) -> tuple[str, Generation, list[TokenOut]]:
    gen = engine.start(GenerationRequest(engine.tokenize(prompt), max_tokens, **kw))  # type: ignore[arg-type]
    tokens = [t async for t in gen]
    return "".join(t.text for t in tokens), gen, tokens


def test_the_gateway_tokenizer_is_the_models(engine: RemoteEngine, model_dir: Path) -> None:
    assert (
        isinstance(engine.info.chat_template, str) and "[gMASK]<sop>" in engine.info.chat_template
    )
    ids = engine.tokenize(PROMPT)
    tok = HfTokenizer(model_dir)
    assert tok.piece(ids[0]) == b"[gMASK]" and tok.piece(ids[-1]) == b"<think>"


async def test_token_ids_in_and_out_with_streaming(engine: RemoteEngine, worker: Worker) -> None:
    text, gen, tokens = await generate(engine, PROMPT, 16, sampling=GREEDY)
    assert gen.finish_reason in ("length", "stop"), gen.error
    ids = [t.token_id for t in tokens if t.token_id >= 0]
    assert gen.usage.completion_tokens >= len(ids) > 0
    assert gen.usage.prompt_tokens == len(engine.tokenize(PROMPT))
    # vLLM's own answer to the same token prompt, greedy: the same tokens.
    body = {
        "model": worker.model,
        "prompt": engine.tokenize(PROMPT),
        "max_tokens": 16,
        "temperature": 0,
        "return_token_ids": True,
        "skip_special_tokens": False,
    }
    direct = httpx.post(f"{worker.base}/v1/completions", json=body, timeout=120).json()
    assert direct["choices"][0]["token_ids"][: len(ids)] == ids
    assert text  # detokenized on the gateway


async def test_cached_tokens_on_a_repeated_prefix(engine: RemoteEngine) -> None:
    _, first, _ = await generate(engine, LONG + "<|user|>\nhello<|assistant|>\n", 2)
    _, second, _ = await generate(engine, LONG + "<|user|>\nhi there<|assistant|>\n", 2)
    assert first.finish_reason != "error" and second.finish_reason != "error", second.error
    assert second.usage.cached_tokens > 0


async def test_grammar_forces_the_output(engine: RemoteEngine) -> None:
    grammar = 'root ::= "yes" | "no"'
    text, gen, _ = await generate(
        engine, PROMPT, 10, sampling=SamplingParams(temperature=1.0, seed=1, grammar=grammar)
    )
    assert gen.finish_reason == "stop", gen.error
    assert text in ("yes", "no")


async def test_cancel_aborts_the_request_on_the_worker(
    engine: RemoteEngine, worker: Worker
) -> None:
    gen = engine.start(GenerationRequest(engine.tokenize(PROMPT), 1500, GREEDY))
    seen = 0
    async for _ in gen:
        seen += 1
        if seen == 3:
            gen.cancel()
    assert gen.finish_reason == "cancelled"
    deadline = time.monotonic() + 60
    while _running(worker) > 0:
        assert time.monotonic() < deadline, "vLLM kept generating after the cancel"
        time.sleep(0.2)


def _running(worker: Worker) -> float:
    metrics = httpx.get(f"{worker.base}/metrics", timeout=30).text
    found = re.findall(r"^vllm:num_requests_running\{[^}]*\} ([0-9.e+]+)$", metrics, re.M)
    return sum(float(v) for v in found)
