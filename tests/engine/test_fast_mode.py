"""The default (fast) mode: llama.cpp's fastest CPU kernels, and a prefix cache that reuses
any computed prefix, generated tokens included, with ``cached_tokens`` exact. Run in a
worker process, as served (the kernel choice is process-wide)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmserve.engine.llama.slots import MIN_REUSE, common_prefix
from glmserve.engine.llama.worker import LlamaWorkerSpec, WorkerEngine
from glmserve.engine.types import GenerationRequest, SamplingParams, TokenOut, Usage

GREEDY = SamplingParams(temperature=0.0)
CHUNK = 32


@pytest.fixture(scope="module")
def fast(gemma_gguf: Path) -> Iterator[WorkerEngine]:
    spec = LlamaWorkerSpec(  # batch_invariant left at its default
        gguf=gemma_gguf,
        context_size=1024,
        threads=2,
        batch_size=CHUNK,
        max_running=2,
        queue_limit=8,
    )
    assert not spec.batch_invariant
    engine = WorkerEngine(spec)
    yield engine
    engine.close()


def _run(engine: WorkerEngine, prompt: str, max_tokens: int) -> tuple[list[TokenOut], Usage]:
    async def go() -> tuple[list[TokenOut], Usage]:
        gen = engine.start(GenerationRequest(engine.tokenize(prompt), max_tokens, GREEDY))
        tokens = [t async for t in gen]
        return tokens, gen.usage

    return asyncio.run(go())


def _expected(held: list[int], tokens: list[int]) -> int:
    """All of the shared prefix but the last prompt token (computed for its logits)."""
    return min(common_prefix(held, tokens), len(tokens) - 1)


BOS_ONLY = 1
"""What a prompt shares with the slots ``_reset`` fills: the model's <bos> (reused too)."""


def _reset(engine: WorkerEngine) -> None:
    for i in range(2):  # both slots get an unrelated prompt
        _run(engine, f"<bos>Evict {i}: " + "z " * (MIN_REUSE + i), 1)


def test_any_prefix_is_reused_at_any_token_boundary(fast: WorkerEngine) -> None:
    prompt = "<bos>User: Tell me about the Roman emperors and their wars." * 4 + "\nAssistant:"
    tokens = fast.tokenize(prompt)
    assert len(tokens) % CHUNK not in (0, 1)
    _reset(fast)
    miss = _run(fast, prompt, 4)[1]
    hit = _run(fast, prompt, 4)[1]
    assert miss.cached_tokens == BOS_ONLY
    assert hit.cached_tokens == len(tokens) - 1  # not a multiple of the batch size
    other = prompt.replace("\nAssistant:", "\nUser: and Carthage?\nAssistant:")
    partial = _run(fast, other, 1)[1]
    assert partial.cached_tokens == _expected(tokens, fast.tokenize(other)) > 0
    assert partial.prompt_tokens == len(fast.tokenize(other))


def test_a_conversation_reuses_the_generated_answer(fast: WorkerEngine) -> None:
    turn1 = "<bos>User: Count from 1 to 300: 1, 2, 3, 4, 5,\nAssistant:"
    _reset(fast)
    tokens, usage = _run(fast, turn1, 24)
    assert usage.cached_tokens == BOS_ONLY and usage.completion_tokens == 24
    # The slot holds the prompt and every generated token but the last (never fed back).
    held = fast.tokenize(turn1) + [t.token_id for t in tokens[:-1]]
    turn2 = turn1 + "".join(t.text for t in tokens) + "\nUser: go on\nAssistant:"
    again = _run(fast, turn2, 1)[1]
    assert again.cached_tokens == _expected(held, fast.tokenize(turn2))
    assert again.cached_tokens > len(fast.tokenize(turn1))


def test_a_short_shared_prefix_is_reused_too(fast: WorkerEngine) -> None:
    """A prefix under MIN_REUSE is not copied from a busy slot, but the slot a new
    sequence lands on gives what it shares, however short (a chat template's opening)."""
    _reset(fast)
    short = "<bos>The quick brown fox runs."
    first = _run(fast, short, 1)[1]
    again = _run(fast, short, 1)[1]
    sleeps = "<bos>The quick brown fox sleeps."
    other = _run(fast, sleeps, 1)[1]
    assert first.cached_tokens == BOS_ONLY
    assert again.cached_tokens == again.prompt_tokens - 1
    shared = common_prefix(fast.tokenize(short), fast.tokenize(sleeps))
    assert BOS_ONLY < shared < MIN_REUSE
    assert other.cached_tokens == shared  # the slot that shares most, not the LRU one
