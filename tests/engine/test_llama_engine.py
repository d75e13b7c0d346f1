"""The embedded llama.cpp engine on the real default model (Gemma 3 270M Q4_K_M), in the
opt-in batch-invariant mode (tests/engine/test_fast_mode.py: the default, fast mode)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmserve.engine.llama.engine import LlamaEngine
from glmserve.engine.llama.slots import MIN_REUSE, common_prefix
from glmserve.engine.types import (
    EngineBusy,
    Generation,
    GenerationRequest,
    SamplingParams,
    TokenOut,
)

GREEDY = SamplingParams(temperature=0.0)
COUNT = "<bos>User: Count from 1 to 300: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,\nAssistant:"
CHUNK = 32
# In the exact mode the last two prompt tokens are always computed (never one alone:
# attention over a single query takes other kernels than over several).
RECOMPUTED = 2


@pytest.fixture(scope="module")
def engine(gemma_gguf: Path) -> Iterator[LlamaEngine]:
    eng = LlamaEngine(
        gemma_gguf,
        context_size=1024,
        threads=2,
        batch_size=CHUNK,
        max_running=8,
        queue_limit=64,
        batch_invariant=True,
    )
    yield eng
    eng.close()


async def _drain(gen: Generation) -> list[TokenOut]:
    return [token async for token in gen]


def _run(engine: LlamaEngine, prompt: str, max_tokens: int = 20, **kw: object) -> tuple:  # type: ignore[type-arg]
    async def go() -> tuple:  # type: ignore[type-arg]
        request = GenerationRequest(engine.tokenize(prompt), max_tokens, **kw)  # type: ignore[arg-type]
        gen = engine.start(request)
        tokens = await _drain(gen)
        return "".join(t.text for t in tokens), gen.finish_reason, gen.usage, tokens

    return asyncio.run(go())


def test_info_reports_the_weights(engine: LlamaEngine) -> None:
    assert engine.info.context_size == 1024
    assert engine.info.trained_context == 32768
    assert engine.info.chat_template is None  # the base model ships no template
    assert engine.info.bos_token == "<bos>"
    assert engine.batch_invariant  # in effect on this CPU build


def test_tokenize_adds_bos_once_and_parses_special_tokens(engine: LlamaEngine) -> None:
    with_bos = engine.tokenize("<bos>hello")
    without = engine.tokenize("hello")
    assert with_bos == without  # BOS added when missing, not doubled when present
    assert engine.tokenize("<start_of_turn>")[1:] == [105]  # one special token, not text


def test_max_tokens_ends_with_length_and_counts_exactly(engine: LlamaEngine) -> None:
    text, reason, usage, tokens = _run(engine, COUNT, 12, sampling=GREEDY)
    assert reason == "length"
    assert usage.completion_tokens == 12 == len(tokens)
    assert usage.prompt_tokens == len(engine.tokenize(COUNT))
    assert text.strip()


def _reused(engine: LlamaEngine, held: list[int], prompt: str) -> int:
    """What the prefix cache may reuse for ``prompt`` from a slot holding ``held``: all
    but the last two prompt tokens at most (they are computed together, as in a fresh
    prefill; see RECOMPUTED)."""
    tokens = engine.tokenize(prompt)
    common = common_prefix(held, tokens)
    n = min(common, len(tokens) - RECOMPUTED)
    return n if n >= MIN_REUSE or common >= len(tokens) - 1 else 0


def test_greedy_is_deterministic_with_and_without_the_prefix_cache(engine: LlamaEngine) -> None:
    prompt = "<bos>User: Tell me about the Roman emperors and their wars." * 4 + "\nAssistant:"
    _run(engine, "<bos>something unrelated", 2, sampling=GREEDY)
    first = _run(engine, prompt, 30, sampling=GREEDY)
    second = _run(engine, prompt, 30, sampling=GREEDY)
    assert first[2].cached_tokens == 0
    # Everything but the last prompt tokens (computed again for the logits) is reused:
    # not a multiple of the batch size, and still the same arithmetic.
    assert second[2].cached_tokens == len(engine.tokenize(prompt)) - RECOMPUTED
    assert (second[2].cached_tokens) % CHUNK != 0
    assert first[0] == second[0]


def test_greedy_is_the_same_alone_and_among_eight_concurrent_requests(
    engine: LlamaEngine,
) -> None:
    topics = ["Rome", "Paris", "the sea", "dragons", "computers", "music", "the moon", "cats"]
    prompts = [
        f"<bos>User: Tell me fact number {i} about {t}.\nAssistant:" for i, t in enumerate(topics)
    ]
    prompts[3] = "<bos>" + "A long prompt read in chunks while others decode. " * 8 + prompts[3][5:]

    async def one(prompt: str) -> list[int]:
        gen = engine.start(GenerationRequest(engine.tokenize(prompt), 40, GREEDY))
        return [t.token_id for t in await _drain(gen)]

    async def together() -> list[list[int]]:
        return list(await asyncio.gather(*[one(p) for p in prompts]))

    _run(engine, "<bos>reset", 1, sampling=GREEDY)
    alone = [asyncio.run(one(p)) for p in prompts]
    for i in range(8):  # evict: the concurrent run starts from cold slots as well
        _run(engine, f"<bos>Evict {i}: " + "x " * (MIN_REUSE + i), 1, sampling=GREEDY)
    before = engine.stats()
    concurrent = asyncio.run(together())
    after = engine.stats()
    assert after.cached_tokens == before.cached_tokens  # nothing came from the cache
    # They shared decode steps (8 x 40 tokens in far fewer than 320 steps)...
    assert after.decode_steps - before.decode_steps < 120
    # ...and each got exactly the tokens it got alone.
    assert concurrent == alone
    assert len({tuple(a) for a in alone}) == 8


def test_cached_tokens_are_exact(engine: LlamaEngine) -> None:
    base = "<bos>" + "The quick brown fox jumps over the lazy dog. " * 12
    _run(engine, "<bos>reset", 1, sampling=GREEDY)
    miss = _run(engine, base + "User: a\nAssistant:", 1, sampling=GREEDY)[2]
    assert miss.cached_tokens == 0
    held = engine.tokenize(base + "User: a\nAssistant:")
    hit = _run(engine, base + "User: b\nAssistant:", 1, sampling=GREEDY)[2]
    # The whole shared prefix is reused, and the count says exactly how much.
    assert hit.cached_tokens == _reused(engine, held, base + "User: b\nAssistant:")
    assert hit.cached_tokens > len(engine.tokenize(base)) - 2
    assert hit.prompt_tokens == len(engine.tokenize(base + "User: b\nAssistant:"))
    short = _run(engine, "<bos>The quick brown fox runs.", 1, sampling=GREEDY)[2]
    assert short.cached_tokens == 0  # a prefix shorter than MIN_REUSE is not worth reusing
    again = _run(engine, "<bos>The quick brown fox runs.", 1, sampling=GREEDY)[2]
    assert again.cached_tokens == again.prompt_tokens - RECOMPUTED  # but a repeated prompt is


def test_a_conversation_reuses_the_generated_answer(engine: LlamaEngine) -> None:
    turn1 = "<bos>User: Count from 1 to 300: 1, 2, 3, 4, 5,\nAssistant:"
    _run(engine, "<bos>reset", 1, sampling=GREEDY)
    text, _, usage, tokens = _run(engine, turn1, 24, sampling=GREEDY)
    assert usage.cached_tokens == 0
    # The slot holds the prompt and every generated token but the last (never fed back).
    held = engine.tokenize(turn1) + [t.token_id for t in tokens[:-1]]
    turn2 = turn1 + text + "\nUser: go on\nAssistant:"
    again = _run(engine, turn2, 1, sampling=GREEDY)[2]
    assert again.cached_tokens == _reused(engine, held, turn2)
    assert again.cached_tokens > len(engine.tokenize(turn1))


def test_a_prefix_shared_with_a_running_request_is_reused_exactly(engine: LlamaEngine) -> None:
    base = "<bos>" + "Pack my box with five dozen liquor jugs. " * 12
    first_prompt = base + "User: first\nAssistant:"
    second_prompt = base + "User: second\nAssistant:"

    async def go() -> tuple[int, int]:
        reset = engine.start(GenerationRequest(engine.tokenize("<bos>reset"), 1, GREEDY))
        await _drain(reset)
        first = engine.start(GenerationRequest(engine.tokenize(first_prompt), 40, GREEDY))
        tokens = aiter(first)
        await anext(tokens)  # the first request has read its prompt and is generating
        second = engine.start(GenerationRequest(engine.tokenize(second_prompt), 3, GREEDY))
        await _drain(second)
        async for _ in tokens:
            pass
        return first.usage.cached_tokens, second.usage.cached_tokens

    first_cached, second_cached = asyncio.run(go())
    assert first_cached == 0
    # The running request's KV stream was copied to the second one's slot, up to where
    # the prompts part.
    expected = _reused(engine, engine.tokenize(first_prompt), second_prompt)
    assert second_cached == expected > len(engine.tokenize(base)) - 2


def test_stop_string_ends_generation_and_is_not_in_the_text(engine: LlamaEngine) -> None:
    full = _run(engine, COUNT, 20, sampling=GREEDY)[0]
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    text, reason, usage, _ = _run(engine, COUNT, 20, sampling=GREEDY, stop=(stop,))
    assert reason == "stop"
    assert text == full[: full.index(stop)]
    assert usage.completion_tokens < 20


def test_seed_makes_sampling_reproducible(engine: LlamaEngine) -> None:
    sampling = SamplingParams(temperature=1.0, top_p=0.95, seed=1234)
    prompt = "<bos>User: Tell me a story.\nAssistant:"
    assert (
        _run(engine, prompt, 20, sampling=sampling)[0]
        == _run(engine, prompt, 20, sampling=sampling)[0]
    )


def test_cancel_stops_within_a_decode_step_and_frees_the_engine(engine: LlamaEngine) -> None:
    async def go() -> None:
        before = engine.stats()
        gen = engine.start(GenerationRequest(engine.tokenize(COUNT), 900, GREEDY))
        seen = 0
        async for _ in gen:
            seen += 1
            if seen == 3:
                gen.cancel()
        assert gen.finish_reason == "cancelled"
        # The decode thread checks the flag before every sampled token: at most a couple
        # of tokens were already in flight when we cancelled.
        assert 3 <= gen.usage.completion_tokens <= 5
        after = engine.stats()
        assert after.cancelled == before.cancelled + 1
        assert after.running == 0 and after.waiting == 0
        nxt = engine.start(GenerationRequest(engine.tokenize(COUNT), 3, GREEDY))
        assert len(await _drain(nxt)) == 3 and nxt.finish_reason == "length"

    asyncio.run(go())


def test_a_waiting_generation_cancelled_before_it_starts_never_runs(gemma_gguf: Path) -> None:
    eng = LlamaEngine(
        gemma_gguf, context_size=512, threads=2, batch_size=CHUNK, max_running=1, queue_limit=64
    )

    async def go() -> None:
        first = eng.start(GenerationRequest(eng.tokenize(COUNT), 30, GREEDY))
        second = eng.start(GenerationRequest(eng.tokenize(COUNT), 30, GREEDY))
        second.cancel()  # it waits behind the first: one sequence at a time here
        await _drain(first)
        assert await _drain(second) == []
        assert second.finish_reason == "cancelled" and second.usage.completion_tokens == 0
        assert first.usage.completion_tokens == 30

    try:
        asyncio.run(go())
    finally:
        eng.close()


def test_concurrent_requests_decode_together(engine: LlamaEngine) -> None:
    async def go() -> list[Generation]:
        gens = [
            engine.start(GenerationRequest(engine.tokenize(COUNT + " " * i), 20, GREEDY))
            for i in range(4)
        ]
        for gen in gens:
            await _drain(gen)
        return gens

    before = engine.stats()
    gens = asyncio.run(go())
    after = engine.stats()
    assert all(g.finish_reason == "length" and g.usage.completion_tokens == 20 for g in gens)
    # 80 tokens were generated in far fewer decode calls: the sequences shared batches.
    assert after.generated_tokens - before.generated_tokens == 80
    assert after.decode_steps - before.decode_steps < 60


def test_full_queue_refuses_instead_of_waiting_forever(gemma_gguf: Path) -> None:
    eng = LlamaEngine(
        gemma_gguf, context_size=512, threads=2, batch_size=512, max_running=1, queue_limit=1
    )

    async def go() -> None:
        gens: list[Generation] = []
        with pytest.raises(EngineBusy):
            for _ in range(3):  # at most one runs and one waits: the third is refused
                gens.append(eng.start(GenerationRequest(eng.tokenize(COUNT), 5, GREEDY)))
        assert 1 <= len(gens) <= 2
        for gen in gens:
            await _drain(gen)
        assert all(g.usage.completion_tokens == 5 for g in gens)

    try:
        asyncio.run(go())
    finally:
        eng.close()


def test_multibyte_output_is_whole_characters(engine: LlamaEngine) -> None:
    text, *_ = _run(
        engine,
        "<bos>User: Say hello in Chinese and Japanese.\nAssistant: 你好",
        30,
        sampling=GREEDY,
    )
    assert "\ufffd" not in text
