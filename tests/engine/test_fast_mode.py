"""batch_invariant = false: llama.cpp's fastest CPU kernels, and a prefix cache that
reuses only whole aligned chunks (the only state a fresh prefill would compute the same
way). Run in a worker process: the kernel choice is process-wide."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmserve.engine.types import GenerationRequest, SamplingParams, TokenOut
from glmserve.engine.worker import WorkerEngine, WorkerSpec

GREEDY = SamplingParams(temperature=0.0)
CHUNK = 32


@pytest.fixture(scope="module")
def fast(gemma_gguf: Path) -> Iterator[WorkerEngine]:
    spec = WorkerSpec(
        gguf=gemma_gguf,
        context_size=1024,
        threads=2,
        batch_size=CHUNK,
        max_running=2,
        queue_limit=8,
        batch_invariant=False,
    )
    engine = WorkerEngine(spec)
    yield engine
    engine.close()


def _run(engine: WorkerEngine, prompt: str, max_tokens: int) -> tuple[list[TokenOut], int]:
    async def go() -> tuple[list[TokenOut], int]:
        gen = engine.start(GenerationRequest(engine.tokenize(prompt), max_tokens, GREEDY))
        tokens = [t async for t in gen]
        return tokens, gen.usage.cached_tokens

    return asyncio.run(go())


def test_only_whole_aligned_chunks_are_reused_and_greedy_output_does_not_change(
    fast: WorkerEngine,
) -> None:
    prompt = "<bos>User: Tell me about the Roman emperors and their wars." * 4 + "\nAssistant:"
    n_prompt = len(fast.tokenize(prompt))
    assert n_prompt % CHUNK != 0
    first, first_cached = _run(fast, prompt, 30)
    second, second_cached = _run(fast, prompt, 30)
    assert first_cached == 0
    assert second_cached == (n_prompt - 1) // CHUNK * CHUNK > 0
    assert [t.token_id for t in first] == [t.token_id for t in second]
