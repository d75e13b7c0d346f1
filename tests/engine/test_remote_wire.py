"""The remote engine against scripted workers (httpx.MockTransport): detokenizing,
stop strings, usage, failover, error mapping, caps and the breaker. The real servers
are in test_remote_llama_server.py and test_remote_vllm.py."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from glmserve.engine.remote.engine import RemoteEngine
from glmserve.engine.remote.errors import ContextExceeded
from glmserve.engine.types import EngineBusy, Generation, GenerationRequest, SamplingParams
from tests.engine.remote_fakes import (
    EOS,
    THINK,
    ByteTokenizer,
    FakeCluster,
    eventually,
    llama_events,
)

TOK = ByteTokenizer()


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    yield FakeCluster(2)


def ids(text: str) -> list[int]:
    return TOK.encode(text)


async def run(
    engine: RemoteEngine, prompt: str = "hello", max_tokens: int = 50, stop: tuple[str, ...] = ()
) -> tuple[str, Generation]:
    gen = engine.start(GenerationRequest(ids(prompt), max_tokens, SamplingParams(), stop))
    text = "".join([t.text async for t in gen])
    return text, gen


async def test_tokens_are_detokenized_on_the_gateway(cluster: FakeCluster) -> None:
    for w in cluster.workers:
        w.events = llama_events([THINK, *ids("héllo 你"), EOS], cached=4)
    engine = cluster.engine()
    try:
        text, gen = await run(engine)
        assert text == "<think>héllo 你"
        assert gen.finish_reason == "stop"
        # EOS counts as generated, as on the embedded engine.
        assert gen.usage.completion_tokens == len(ids("héllo 你")) + 2
        assert gen.usage.cached_tokens == 4 and gen.usage.prompt_tokens == 5
        stats = engine.stats()
        assert stats.finished == 1 and stats.cached_tokens == 4 and stats.in_flight == 0
    finally:
        engine.close()


async def test_stop_string_ends_at_the_exact_token_and_closes_the_stream(
    cluster: FakeCluster,
) -> None:
    for w in cluster.workers:
        w.events = llama_events(ids("one two STOP three four"), cached=2)
    engine = cluster.engine()
    try:
        text, gen = await run(engine, stop=("STOP",))
        assert text == "one two "
        assert gen.finish_reason == "stop"
        assert gen.usage.completion_tokens == len("one two STOP")
        busy = [w for w in cluster.workers if w.requests]
        assert len(busy) == 1 and busy[0].closed == 1
        assert busy[0].requests[0]["stop"] == ["STOP"]
        # One more event was read (it might have held the usage), not the rest.
        assert busy[0].sent == len("one two STOP") + 1 < len(busy[0].events)
    finally:
        engine.close()


async def test_max_tokens_ends_with_length(cluster: FakeCluster) -> None:
    for w in cluster.workers:
        w.events = llama_events(ids("abcdefgh"))
    engine = cluster.engine()
    try:
        text, gen = await run(engine, max_tokens=3)
        assert text == "abc" and gen.finish_reason == "length"
        assert gen.usage.completion_tokens == 3
    finally:
        engine.close()


async def test_failure_before_the_first_token_is_retried_on_another_worker(
    cluster: FakeCluster,
) -> None:
    cluster.workers[0].status = 500
    cluster.workers[1].status = 500
    engine = cluster.engine(routing="round-robin")
    try:
        cluster.workers[1].status = 200
        cluster.workers[1].events = llama_events(ids("ok"))
        text, gen = await run(engine)  # round-robin: worker 0 first
        assert text == "ok" and gen.finish_reason == "stop"
        assert len(cluster.workers[0].requests) == 1 and len(cluster.workers[1].requests) == 1
        w0, w1 = engine.worker_stats()
        assert w0.errors == 1 and w0.routed == 1 and w1.routed == 1 and w1.errors == 0
    finally:
        engine.close()


async def test_failure_mid_stream_ends_with_error(cluster: FakeCluster) -> None:
    for w in cluster.workers:
        w.events = llama_events(ids("abcdef"))
        w.fail_after = 3
    engine = cluster.engine()
    try:
        text, gen = await run(engine)
        assert text == "abc"
        assert gen.finish_reason == "error" and "ReadError" in (gen.error or "")
        assert sum(len(w.requests) for w in cluster.workers) == 1  # no retry after tokens
    finally:
        engine.close()


async def test_unreachable_workers_end_with_error_and_leave_routing(cluster: FakeCluster) -> None:
    for w in cluster.workers:
        w.unreachable = True
    engine = cluster.engine()
    try:
        _, gen = await run(engine)
        assert gen.finish_reason == "error" and "unreachable" in (gen.error or "")
        assert all(s.health == "down" for s in engine.worker_stats())
        # Every worker down: a request still goes to one (and fails honestly).
        _, gen = await run(engine)
        assert gen.finish_reason == "error"
        cluster.workers[1].unreachable = False
        cluster.workers[1].events = llama_events(ids("back"))
        assert [s.health for s in engine.check_health()] == ["down", "up"]
        text, gen = await run(engine)
        assert text == "back" and engine.worker_stats()[1].readmissions == 1
    finally:
        engine.close()


async def test_context_error_is_raised_before_any_token(cluster: FakeCluster) -> None:
    for w in cluster.workers:
        w.status = 400
        w.error_body = {
            "error": {
                "code": 400,
                "message": "request (5 tokens) exceeds the available context size (4 tokens)",
                "type": "exceed_context_size_error",
            }
        }
    engine = cluster.engine()
    try:
        gen = engine.start(GenerationRequest(ids("hello"), 5))
        with pytest.raises(ContextExceeded):
            async for _ in gen:
                pass
        assert gen.finish_reason == "error"
        assert sum(len(w.requests) for w in cluster.workers) == 1  # not retried
        assert all(s.health != "down" for s in engine.worker_stats())  # not the worker's fault
    finally:
        engine.close()


async def test_overloaded_everywhere_is_engine_busy(cluster: FakeCluster) -> None:
    for w in cluster.workers:
        w.status = 503
    engine = cluster.engine()
    try:
        gen = engine.start(GenerationRequest(ids("hello"), 5))
        with pytest.raises(EngineBusy):
            async for _ in gen:
                pass
        assert sum(len(w.requests) for w in cluster.workers) == 2  # retried once
    finally:
        engine.close()


async def test_max_in_flight_caps_each_worker(cluster: FakeCluster) -> None:
    engine = cluster.engine(cap=1)
    release = asyncio.Event()
    try:
        for w in cluster.workers:
            w.events = llama_events(ids("x"))
            w.hold = release  # both stay in flight until the third has been refused
        first = engine.start(GenerationRequest(ids("a"), 5))
        second = engine.start(GenerationRequest(ids("b"), 5))
        with pytest.raises(EngineBusy):
            engine.start(GenerationRequest(ids("c"), 5))
        release.set()
        for gen in (first, second):
            [t async for t in gen]
        assert {s.routed for s in engine.worker_stats()} == {1}
        [t async for t in engine.start(GenerationRequest(ids("d"), 5))]  # room again
    finally:
        engine.close()


async def test_cancel_closes_the_worker_stream(cluster: FakeCluster) -> None:
    for w in cluster.workers:
        w.events = llama_events(ids("a" * 2000))
        w.delay = 0.001
    engine = cluster.engine()
    try:
        gen = engine.start(GenerationRequest(ids("hello"), 5000))
        async for token in gen:
            if token.text:
                gen.cancel()
        assert gen.finish_reason == "cancelled"
        assert gen.usage.completion_tokens < 2000
        assert sum(w.closed for w in cluster.workers) == 1
        assert sum(w.sent for w in cluster.workers) < 2000
        assert engine.stats().cancelled == 1 and engine.stats().in_flight == 0
    finally:
        engine.close()


async def test_prefix_routing_keeps_a_prefix_on_one_worker(cluster: FakeCluster) -> None:
    for w in cluster.workers:
        w.events = llama_events(ids("ok"))
    engine = cluster.engine(routing="prefix")
    try:
        system_a = "A" * 64
        system_b = "B" * 64
        first_a = (await run(engine, system_a + "question 1"))[1]
        first_b = (await run(engine, system_b + "question 1"))[1]
        assert first_a.worker != first_b.worker  # a new prefix goes to the least used
        for i in range(2, 6):
            assert (await run(engine, system_a + f"question {i}"))[1].worker == first_a.worker
            assert (await run(engine, system_b + f"question {i}"))[1].worker == first_b.worker
    finally:
        engine.close()


async def test_vllm_stream_through_the_engine(cluster: FakeCluster) -> None:
    chunks = [
        {"choices": [{"index": 0, "text": "", "token_ids": ids("hi "), "prompt_token_ids": [1]}]},
        {
            "choices": [
                {"index": 0, "text": "", "token_ids": [*ids("there"), EOS], "finish_reason": "stop"}
            ]
        },
        {
            "choices": [],
            "usage": {
                "prompt_tokens": 5,
                "completion_tokens": 9,
                "prompt_tokens_details": {"cached_tokens": 3},
            },
        },
    ]
    for w in cluster.workers:
        w.events = chunks
    engine = cluster.engine(kind="vllm")
    try:
        text, gen = await run(engine, stop=("ere",))
        # The stop string ends it mid-chunk; the usage chunk is still read for cached_tokens.
        assert text == "hi th" and gen.finish_reason == "stop"
        assert gen.usage.cached_tokens == 3 and gen.usage.completion_tokens == len("hi there")
    finally:
        engine.close()


async def test_cancel_sends_vllm_the_abort_call_for_a_text_request(cluster: FakeCluster) -> None:
    # glmserve's own guard: vLLM may not notice a closed stream before it has generated
    # the whole answer, so a cancelled text request is aborted by its id too.
    for w in cluster.workers:
        w.events = [{"choices": [{"index": 0, "token_ids": [65]}]}] * 10
        w.stall_after = 1  # the stream stays open until the gateway closes it
    engine = cluster.engine(kind="vllm")
    try:
        gen = engine.start(GenerationRequest(ids("hello"), 5000))
        async for token in gen:
            if token.text:
                gen.cancel()
        [worker] = [w for w in cluster.workers if w.paths]
        assert gen.finish_reason == "cancelled" and worker.closed == 1
        await eventually(lambda: len(worker.paths) == 2, "no abort call")  # sent unawaited
        assert worker.paths == ["/v1/completions", "/inference/v1/abort_requests"]
        rid = worker.requests[0]["request_id"]
        assert worker.requests[1] == {"request_ids": [f"cmpl-{rid}-0"]}
    finally:
        engine.close()
