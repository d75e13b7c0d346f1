"""Prefix-aware routing, the load escape, the other policies and the circuit breaker."""

from __future__ import annotations

from dataclasses import dataclass

from glmserve.engine.remote.health import Breaker
from glmserve.engine.remote.routing import PrefixRecord, Router, block_hashes


@dataclass
class W:
    index: int
    in_flight: int = 0
    routed: int = 0


def router(policy: str = "prefix", capacity: int = 1000) -> Router:
    return Router(policy, PrefixRecord(capacity), escape_margin=4, escape_ratio=1.5)  # type: ignore[arg-type]


def test_block_hashes_name_whole_prefixes() -> None:
    a = block_hashes(list(range(40)), 16)
    b = block_hashes([*range(32), 99, 98], 16)
    assert len(a) == 2 and len(b) == 2  # only full blocks
    assert a == b  # same first 32 tokens
    c = block_hashes([1000, *range(1, 40)], 16)
    assert c[0] != a[0] and c[1] != a[1]  # a change in block 0 renames every later block


def test_prefix_goes_to_the_worker_holding_the_longest_prefix() -> None:
    r = router()
    workers = [W(0), W(1), W(2)]
    long = block_hashes(list(range(64)), 16)
    r.record.add(long[:1], 0)
    r.record.add(long, 1)
    assert r.choose(workers, long).index == 1
    assert r.choose(workers, long[:1]).index in (0, 1)  # both hold one block
    fresh = block_hashes([7] * 64, 16)
    workers[2].in_flight = 0
    workers[0].in_flight = workers[1].in_flight = 1
    assert r.choose(workers, fresh).index == 2  # no prefix: the least loaded


def test_load_escape_passes_over_a_much_busier_holder() -> None:
    r = router()
    holder, idle = W(0), W(1)
    prompt = block_hashes(list(range(32)), 16)
    r.record.add(prompt, 0)
    holder.in_flight = 3
    assert r.choose([holder, idle], prompt) is holder  # 3 more: not "much busier" yet
    holder.in_flight = 4
    assert r.choose([holder, idle], prompt) is idle
    idle.in_flight = 3
    assert r.choose([holder, idle], prompt) is holder  # 4 vs 3: within 1.5x


def test_least_loaded_and_round_robin() -> None:
    workers = [W(0, in_flight=2), W(1, in_flight=1), W(2, in_flight=1, routed=5)]
    assert router("least-loaded").choose(workers, []).index == 1
    rr = router("round-robin")
    assert [rr.choose(workers, []).index for _ in range(4)] == [0, 1, 2, 0]


def test_record_is_bounded_and_forgets_least_recently_used() -> None:
    record = PrefixRecord(capacity=4)
    first = block_hashes(list(range(32)), 16)
    second = block_hashes([5] * 48, 16)
    record.add(first, 0)
    record.add(second, 1)  # 5 blocks in all: the oldest goes
    assert len(record) == 4
    assert record.matched_blocks(first) == {}  # its first block was evicted
    assert record.matched_blocks(second) == {1: 3}
    record.forget(1)
    assert record.matched_blocks(second) == {}


def test_breaker_opens_and_only_a_probe_readmits() -> None:
    b = Breaker(failure_threshold=3)
    assert b.routable and b.state == "unknown"
    assert not b.failed("boom") and not b.failed("boom")
    b.succeeded()
    assert not b.failed("boom") and not b.failed("boom")
    assert b.failed("boom")  # three in a row
    assert not b.routable
    b.succeeded()  # a request that got through does not readmit
    assert not b.routable
    assert b.probed(True)
    assert b.routable and b.readmissions == 1
    assert b.failed("refused", at_once=True)
    assert not b.probed(False, "down")  # already out


def test_a_chain_continues_where_it_stopped() -> None:
    tokens = list(range(100))
    head = block_hashes(tokens[:48], 16)
    assert [*head, *block_hashes(tokens[48:], 16, head[-1])] == block_hashes(tokens, 16)
