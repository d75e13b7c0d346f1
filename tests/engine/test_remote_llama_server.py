"""The remote engine against real llama-server workers (built from the llama.cpp that
llama-cpp-python vendors) serving the default model: token-ID prompts, streaming,
cancel, cached tokens, grammars, prefix routing across two replicas, failover and
re-admission."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from glmserve.engine.remote.engine import RemoteEngine
from glmserve.engine.remote.spec import RemoteSpec, Routing, WorkerSpec
from glmserve.engine.remote.tokenizer import GatewayTokenizer, GgufTokenizer
from glmserve.engine.types import Generation, GenerationRequest, SamplingParams, TokenOut
from tests.support.workers import Worker, free_port, llama_server_worker

GREEDY = SamplingParams(temperature=0.0)
COUNT = "<bos>User: Count from 1 to 300: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,\nAssistant:"
TENANT = "<bos>System: You are the support assistant of {name}. " + "Be brief and polite. " * 30


@pytest.fixture(scope="module")
def tokenizer(gemma_gguf: Path) -> Iterator[GatewayTokenizer]:
    tok = GgufTokenizer(gemma_gguf)
    yield tok
    tok.close()


@pytest.fixture(scope="module")
def replicas(gemma_gguf: Path) -> Iterator[list[Worker]]:
    with (
        llama_server_worker(gemma_gguf, ctx_size=4096, parallel=2) as a,
        llama_server_worker(gemma_gguf, ctx_size=4096, parallel=2) as b,
    ):
        yield [a, b]


def make_engine(
    workers: list[Worker],
    tokenizer: GatewayTokenizer,
    routing: Routing = "prefix",
    **spec: float,
) -> RemoteEngine:
    remote = RemoteSpec(
        workers=tuple(WorkerSpec(w.base, "llama-server") for w in workers),
        tokenizer=Path("unused"),
        context_size=2048,
        routing=routing,
        **spec,  # type: ignore[arg-type]
    )
    return RemoteEngine(remote, tokenizer)


@pytest.fixture
def engine(replicas: list[Worker], tokenizer: GatewayTokenizer) -> Iterator[RemoteEngine]:
    eng = make_engine(replicas, tokenizer)
    yield eng
    eng.close()


async def generate(
    engine: RemoteEngine, prompt: str, max_tokens: int = 20, **kw: object
) -> tuple[str, Generation, list[TokenOut]]:
    request = GenerationRequest(engine.tokenize(prompt), max_tokens, **kw)  # type: ignore[arg-type]
    gen = engine.start(request)
    tokens = [t async for t in gen]
    return "".join(t.text for t in tokens), gen, tokens


async def test_greedy_stream_is_the_workers_tokens_detokenized_on_the_gateway(
    engine: RemoteEngine, replicas: list[Worker]
) -> None:
    text, gen, tokens = await generate(engine, COUNT, 24, sampling=GREEDY)
    assert gen.finish_reason == "length", gen.error
    ids = [t.token_id for t in tokens if t.token_id >= 0]
    assert len(ids) == 24 == gen.usage.completion_tokens
    assert gen.usage.prompt_tokens == len(engine.tokenize(COUNT))
    assert "2, 3" in text
    # The worker's own detokenization of the same IDs gives the same text.
    worker = next(w for w in replicas if w.base == gen.worker)
    detok = httpx.post(f"{worker.base}/detokenize", json={"tokens": ids}, timeout=30).json()
    assert detok["content"] == text


async def test_cached_tokens_on_a_repeated_prefix(engine: RemoteEngine) -> None:
    prompt = TENANT.format(name="Acme") + "\nUser: hello\nAssistant:"
    _, first, _ = await generate(engine, prompt, 4, sampling=GREEDY)
    _, second, _ = await generate(engine, prompt, 4, sampling=GREEDY)
    assert first.finish_reason == second.finish_reason == "length"
    assert second.worker == first.worker  # prefix routing
    assert second.usage.cached_tokens > 0
    assert second.usage.cached_tokens <= second.usage.prompt_tokens
    assert engine.stats().cached_tokens >= second.usage.cached_tokens


async def test_stop_string_is_honoured_exactly(engine: RemoteEngine) -> None:
    text, gen, _ = await generate(engine, COUNT, 60, sampling=GREEDY, stop=(" 14,",))
    assert gen.finish_reason == "stop"
    assert text.endswith("13,") and "14" not in text


async def test_grammar_forces_the_output(engine: RemoteEngine) -> None:
    grammar = 'root ::= "yes" | "no"'
    text, gen, _ = await generate(
        engine, COUNT, 10, sampling=SamplingParams(temperature=1.0, seed=3, grammar=grammar)
    )
    assert gen.finish_reason == "stop", gen.error
    assert text in ("yes", "no")


async def test_cancel_aborts_the_request_on_the_worker(
    engine: RemoteEngine, replicas: list[Worker]
) -> None:
    gen = engine.start(GenerationRequest(engine.tokenize(COUNT), 1500, GREEDY))
    seen = 0
    async for _ in gen:
        seen += 1
        if seen == 3:
            gen.cancel()
    assert gen.finish_reason == "cancelled"
    assert gen.usage.completion_tokens < 1500
    worker = next(w for w in replicas if w.base == gen.worker)
    deadline = time.monotonic() + 60
    while any(s["is_processing"] for s in httpx.get(f"{worker.base}/slots").json()):
        assert time.monotonic() < deadline, "the worker kept generating after the cancel"
        time.sleep(0.2)
    assert engine.stats().in_flight == 0


async def test_prefix_routing_keeps_each_tenant_on_one_replica(
    replicas: list[Worker], tokenizer: GatewayTokenizer
) -> None:
    engine = make_engine(replicas, tokenizer, "prefix")
    try:
        homes: dict[str, set[str | None]] = {"Acme": set(), "Globex": set()}
        for i in range(3):
            for name in homes:
                prompt = TENANT.format(name=name) + f"\nUser: question {i}\nAssistant:"
                _, gen, _ = await generate(engine, prompt, 2, sampling=GREEDY)
                assert gen.finish_reason == "length", gen.error
                homes[name].add(gen.worker)
        assert all(len(workers) == 1 for workers in homes.values())
        assert homes["Acme"] != homes["Globex"]  # a new prefix goes to the less used one
        assert [s.routed for s in engine.worker_stats()] == [3, 3]
    finally:
        engine.close()


def test_a_worker_down_at_start_is_not_an_error(tokenizer: GatewayTokenizer) -> None:
    port = free_port()
    engine = make_engine([_Down(port)], tokenizer, health_interval=0.2)  # type: ignore[list-item]
    try:
        (stats,) = engine.check_health()
        assert stats.health == "down" and stats.last_error
    finally:
        engine.close()


class _Down:
    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"


async def test_failover_mid_stream_error_and_readmission(
    gemma_gguf: Path, tokenizer: GatewayTokenizer
) -> None:
    port_a, port_b = free_port(), free_port()
    with llama_server_worker(gemma_gguf, port_a, ctx_size=4096, parallel=2) as a:
        b_ctx = llama_server_worker(gemma_gguf, port_b, ctx_size=4096, parallel=2)
        b = b_ctx.__enter__()
        engine = make_engine([a, b], tokenizer, "least-loaded", health_interval=0.3)
        try:
            # A stream on B when B dies ends with an error (its tokens were handed out).
            gen = engine.start(GenerationRequest(engine.tokenize(COUNT), 1500, GREEDY))
            seen = 0
            async for _ in gen:
                seen += 1
                if seen == 2:
                    assert gen.worker in (a.base, b.base)
                    victim = b if gen.worker == b.base else a
                    victim.proc.kill()  # SIGKILL of llama-server itself
            assert gen.finish_reason == "error", gen.error
            survivor = a if victim is b else b
            # Requests that have not started streaming are retried on the survivor.
            for i in range(4):
                _, gen, _ = await generate(engine, f"<bos>Say the number {i}:", 3)
                assert gen.finish_reason == "length", gen.error
                assert gen.worker == survivor.base
            dead = next(s for s in engine.worker_stats() if s.url == victim.base)
            assert dead.health == "down" and dead.errors >= 1
            # Restarted on its port, the worker is probed back into routing.
            victim.stop()
            port = victim.port
            with llama_server_worker(gemma_gguf, port, ctx_size=4096, parallel=2):
                deadline = time.monotonic() + 30
                while next(s for s in engine.worker_stats() if s.url == victim.base).health != "up":
                    assert time.monotonic() < deadline, "the restarted worker was not readmitted"
                    time.sleep(0.2)
                before = next(s for s in engine.worker_stats() if s.url == victim.base).routed
                for i in range(2):
                    _, gen, _ = await generate(engine, f"<bos>Name a colour {i}:", 2)
                    assert gen.finish_reason == "length", gen.error
                back = next(s for s in engine.worker_stats() if s.url == victim.base)
                assert back.routed > before and back.readmissions == 1
        finally:
            engine.close()
            b_ctx.__exit__(None, None, None)


async def test_killing_a_replica_under_load_fails_only_its_started_streams(
    gemma_gguf: Path, tokenizer: GatewayTokenizer
) -> None:
    with (
        llama_server_worker(gemma_gguf, ctx_size=4096, parallel=4) as a,
        llama_server_worker(gemma_gguf, ctx_size=4096, parallel=4) as b,
    ):
        engine = make_engine([a, b], tokenizer, "least-loaded", health_interval=0.3)
        killed = asyncio.Event()
        started_before_kill: set[int] = set()
        results: dict[int, Generation] = {}
        total = 0

        async def one(i: int) -> None:
            nonlocal total
            prompt = f"<bos>Request {i}. Count from 1 to 50: 1, 2, 3,"
            gen = engine.start(GenerationRequest(engine.tokenize(prompt), 12, GREEDY))
            async for _ in gen:
                if not killed.is_set():
                    started_before_kill.add(i)
                    total += 1
                    if total == 16:  # mid-run: SIGKILL of replica b
                        b.proc.kill()
                        killed.set()
            results[i] = gen

        try:
            limit = asyncio.Semaphore(8)

            async def bounded(i: int) -> None:
                async with limit:
                    await one(i)

            await asyncio.gather(*(bounded(i) for i in range(16)))
            assert killed.is_set()
            failed = {i for i, gen in results.items() if gen.finish_reason == "error"}
            # Only streams already under way on b fail; everything else finishes.
            for i in failed:
                assert results[i].worker == b.base and i in started_before_kill, results[i].error
            for i, gen in results.items():
                if i not in failed:
                    assert gen.finish_reason == "length", gen.error
            assert engine.stats().in_flight == 0
            assert next(s for s in engine.worker_stats() if s.url == b.base).health == "down"
        finally:
            engine.close()
