"""The embedding engine process: inputs of concurrent requests pooled together give the
vectors each gets alone; a dead engine process fails what was in flight and comes back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from glmserve.engine.llama.embedding_weights import default_embedding_path
from glmserve.engine.llama.embedding_worker import (
    EmbeddingEngine,
    EmbeddingEngineSpec,
    EmbeddingFailed,
)

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset my password?",
    "Paris is the capital and most populous city of France.",
    "short",
    "Photosynthesis converts light energy into chemical energy in plants.",
]


@pytest.fixture(scope="module")
def engine() -> Iterator[EmbeddingEngine]:
    # A small batch (64 tokens) so that one request's inputs take several decodes.
    spec = EmbeddingEngineSpec(default_embedding_path(progress=False), threads=2, batch_size=64)
    eng = EmbeddingEngine(spec)
    yield eng
    eng.close()


def _unit(vector: list[float]) -> np.ndarray:  # type: ignore[type-arg]
    v = np.array(vector)
    return v / np.linalg.norm(v)  # type: ignore[no-any-return]


def test_tokenize_adds_the_models_special_tokens(engine: EmbeddingEngine) -> None:
    ids = engine.tokenize("Hello world, unbelievable!")
    assert ids == [101, 7592, 2088, 1010, 23653, 999, 102]
    assert engine.info.dimensions == 384 and engine.info.pooling == "mean"


async def test_concurrent_requests_are_batched_and_equal_alone(engine: EmbeddingEngine) -> None:
    ids = [engine.tokenize(t) for t in TEXTS]
    alone = [(await engine.embed([i]))[0] for i in ids]
    together = await asyncio.gather(*(engine.embed([i, i]) for i in ids))
    for single, pair in zip(alone, together, strict=True):
        assert len(pair) == 2
        for vector in pair:
            assert float(_unit(single) @ _unit(vector)) >= 0.99999


async def test_tenants_take_turns_in_the_queue(engine: EmbeddingEngine) -> None:
    # Each request is about one decode's worth of tokens (the batch is 64 here).
    request = [engine.tokenize(t) for t in TEXTS]
    await engine.embed(request[:1])  # the engine process is running
    pid = engine.pid
    assert pid is not None
    ended: list[str] = []

    async def one(name: str, tenant: str) -> None:
        await engine.embed(request, tenant)
        ended.append(name)

    os.kill(pid, signal.SIGSTOP)  # every request below is queued before any is taken
    try:
        work = [asyncio.ensure_future(one(f"a{i}", "a")) for i in range(6)]
        work.append(asyncio.ensure_future(one("b", "b")))
        await asyncio.sleep(0)  # each has sent its request
    finally:
        os.kill(pid, signal.SIGCONT)
    await asyncio.gather(*work)
    # Tenant a's backlog of six holds b's request up by one round, not six.
    assert ended == ["a0", "b", "a1", "a2", "a3", "a4", "a5"]


async def test_a_dead_engine_process_fails_in_flight_work_and_restarts(
    engine: EmbeddingEngine,
) -> None:
    ids = [engine.tokenize(t) for t in TEXTS]
    restarts = engine.restarts
    pid = engine.pid
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)  # the request is surely in flight when the process dies
    work = asyncio.ensure_future(engine.embed(ids))
    await asyncio.sleep(0.2)
    assert not work.done()
    os.kill(pid, signal.SIGKILL)
    with pytest.raises(EmbeddingFailed):
        await work
    for _ in range(300):  # the reader sees the process gone and forgets it
        if engine.pid is None:
            break
        await asyncio.sleep(0.1)
    assert engine.pid is None and engine.restarts == restarts
    vector = (await engine.embed([engine.tokenize(TEXTS[0])]))[0]  # starts a new one
    assert len(vector) == 384
    assert engine.restarts == restarts + 1 and engine.pid not in (None, pid)


async def test_the_engine_process_starts_on_first_use() -> None:
    """No process and no weights until the first request; what the model is (its
    dimensions, pooling, window) is known from the GGUF metadata before that."""
    spec = EmbeddingEngineSpec(default_embedding_path(progress=False), threads=2, batch_size=64)
    eng = EmbeddingEngine(spec)
    try:
        assert eng.pid is None
        info = eng.info
        assert (info.dimensions, info.pooling, info.trained_context) == (384, "mean", 512)
        first, second = await asyncio.gather(
            eng.embed([eng.tokenize(TEXTS[0])]), eng.embed([eng.tokenize(TEXTS[1])])
        )
        assert eng.pid is not None and len(first[0]) == len(second[0]) == 384
        assert eng.restarts == 0
        pid = eng.pid
    finally:
        eng.close()
    assert _gone(pid)  # closing stops it


def test_a_file_that_is_not_an_embedding_model_is_refused_at_start(gemma_gguf: Path) -> None:
    spec = EmbeddingEngineSpec(gemma_gguf, threads=2, batch_size=64)
    with pytest.raises(ValueError, match="not an embedding model"):
        EmbeddingEngine(spec)


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "State:\tZ" in state
