"""Requests decode together, and a greedy answer does not depend on who else is being
served, nor on whether its prompt came from the prefix cache (the opt-in
``batch_invariant = true``, set on this server's models in tests/conftest.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from zai import ZaiClient

from tests.conftest import Server

MODEL = "gemma-3-270m"
TOPICS = ["Rome", "Paris", "the sea", "dragons", "computers", "music", "the moon", "cats"]


@pytest.fixture(scope="module")
def client(server: Server) -> ZaiClient:
    return ZaiClient(api_key="test-id.test-secret", base_url=server.zai_base)


def _steps(server: Server) -> int:
    state = next(m for m in server.health()["models"] if m["model"] == MODEL)
    return int(state["decode_steps"])


def _ask(client: ZaiClient, messages: list[dict[str, str]], max_tokens: int = 32) -> Any:
    return client.chat.completions.create(
        model=MODEL, messages=messages, do_sample=False, max_tokens=max_tokens
    )


def test_greedy_answers_are_the_same_alone_and_among_eight_concurrent_requests(
    server: Server, client: ZaiClient
) -> None:
    questions = [[{"role": "user", "content": f"Tell me a fact about {t}."}] for t in TOPICS]
    alone = [_ask(client, q) for q in questions]
    for i in range(8):  # evict them: every slot gets an unrelated prompt
        _ask(client, [{"role": "user", "content": f"Evict {i}: " + "x " * 40}], 1)
    before = _steps(server)
    with ThreadPoolExecutor(len(questions)) as pool:
        together = list(pool.map(lambda q: _ask(client, q), questions))
    steps = _steps(server) - before
    generated = sum(r.usage.completion_tokens for r in together)
    # Read from scratch both times, and decoded together the second time.
    assert all(r.usage.prompt_tokens_details.cached_tokens == 0 for r in alone + together)
    assert steps < generated * 0.6
    assert [r.choices[0].message.content for r in together] == [
        r.choices[0].message.content for r in alone
    ]
    assert len({r.choices[0].message.content for r in alone}) == 8


def test_the_next_turn_of_a_conversation_reuses_the_previous_answer(client: ZaiClient) -> None:
    first = [
        {"role": "user", "content": "Name three rivers of Europe and say one thing about each."}
    ]
    one = _ask(client, first, 48)
    answer = one.choices[0].message.content
    second = [
        *first,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "More."},
    ]
    two = _ask(client, second, 8)
    cached = two.usage.prompt_tokens_details.cached_tokens
    # The first turn's prompt and (most of) its generated answer came from the cache.
    assert cached > one.usage.prompt_tokens + one.usage.completion_tokens // 2
    assert cached < two.usage.prompt_tokens
    again = _ask(client, second, 8)  # a cached run answers like the uncached one
    assert again.choices[0].message.content == two.choices[0].message.content
    # All but the last two prompt tokens (computed together, never one alone, so that
    # the arithmetic is a fresh prefill's: docs/architecture.md).
    assert again.usage.prompt_tokens_details.cached_tokens == two.usage.prompt_tokens - 2
