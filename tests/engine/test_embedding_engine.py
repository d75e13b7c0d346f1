"""The embedding engine process: inputs of concurrent requests pooled together give the
vectors each gets alone; a dead engine process fails what was in flight and comes back."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import numpy as np
import pytest

from glmserve.engine.embedding_weights import default_embedding_path
from glmserve.engine.embedding_worker import (
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
    for _ in range(300):
        if engine.restarts > restarts:
            break
        await asyncio.sleep(0.1)
    assert engine.restarts == restarts + 1 and engine.pid != pid
    vector = (await engine.embed([engine.tokenize(TEXTS[0])]))[0]
    assert len(vector) == 384
