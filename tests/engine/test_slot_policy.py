"""Which slot a new sequence takes, and the order of a decode step's tokens.

llama.cpp decodes a run of consecutive sequence ids (each with a KV stream of its own)
in one pass over the weights and starts another pass at every gap or step back in the
ids, so the busy slots are kept consecutive and a step lists its sequences in slot
order (docs/architecture.md, "Batch composition"). The KV cache here is the plain
bookkeeping of ``KvOps`` (which positions each sequence holds); the engine tests run
the same policy on llama.cpp.
"""

from __future__ import annotations

from glmserve.engine.llama.scheduler import Scheduler, Sequence
from glmserve.engine.llama.slots import MIN_REUSE, SlotTable, runs
from glmserve.engine.text import TextStream
from glmserve.engine.types import FinishReason, GenerationRequest, TokenOut, Usage


class Cache:
    """What each sequence id holds, as positions 0..n-1 (the KvOps protocol)."""

    def __init__(self, n: int) -> None:
        self.held = [0] * n

    def seq_rm(self, seq: int, start: int = -1, end: int = -1) -> bool:
        assert end == -1
        self.held[seq] = 0 if start < 0 else min(self.held[seq], start)
        return True

    def copy_prefix(self, src: int, dst: int, length: int) -> None:
        self.held[dst] = min(self.held[src], length)


class Sink:
    cancelled = False

    def emit(self, token: TokenOut) -> None:
        pass

    def finish(self, reason: FinishReason, usage: Usage, error: str | None = None) -> None:
        pass


def _busy(table: SlotTable) -> set[int]:
    return {s.id for s in table.slots if s.busy}


def test_runs() -> None:
    assert runs(set()) == 0
    assert runs({0, 1, 2}) == 1
    assert runs({0, 2, 3, 7}) == 3


def test_new_sequences_keep_the_busy_slots_consecutive() -> None:
    table = SlotTable(8, Cache(8))
    taken = [table.acquire([1000 + i, 5, 6]) for i in range(8)]
    for slot, _ in taken:
        table.release(slot)
    # Least recently used first would give slot 0, then 1...; here slots 2 and 5 are
    # the only busy ones, and a newcomer goes next to one of them, not into a gap.
    by_id = {slot.id: slot for slot, _ in taken}
    for i in (2, 5):
        by_id[i].busy = True
    slot, reused = table.acquire([2000, 7, 8])  # shares nothing with any slot
    assert reused == 0 and slot.id in (1, 3, 4, 6)
    assert runs(_busy(table)) == 2
    slot, _ = table.acquire([3000, 7, 8])
    assert runs(_busy(table)) <= 2


def test_a_short_shared_prefix_decides_between_equal_slots_in_the_fast_mode() -> None:
    cache = Cache(4)
    table = SlotTable(4, cache)
    template = [1, 2, 3, 4, 5]  # a chat template's opening: under MIN_REUSE
    assert len(template) < MIN_REUSE
    for i in range(4):
        prompt = [9000 + i] if i % 2 else [*template, 100 + i]
        slot, _ = table.acquire(prompt)
        slot.tokens = prompt  # computed: the slot holds it all
        cache.held[slot.id] = len(prompt)
        table.release(slot)
    slot, reused = table.acquire([*template, 555, 556])
    assert reused == len(template) and slot.tokens[: len(template)] == template
    assert cache.held[slot.id] == len(template)  # the rest of that slot's state is gone


def test_the_exact_mode_reuses_only_long_prefixes() -> None:
    table = SlotTable(2, Cache(2), exact=True)
    slot, _ = table.acquire([1, 2, 3, 4, 5, 6])
    slot.tokens = [1, 2, 3, 4, 5, 6]
    table.release(slot)
    _, reused = table.acquire([1, 2, 3, 4, 5, 7, 8])
    assert reused == 0


def test_a_decode_step_lists_its_sequences_in_slot_order() -> None:
    table = SlotTable(4, Cache(4))
    sched = Scheduler(table, max_running=4, n_batch=64)
    sequences = []
    for i in range(4):
        seq = Sequence(GenerationRequest([100 + i, 1, 2], 8), Sink(), [100 + i, 1, 2], TextStream())
        sched.add(seq)
        sequences.append(seq)
    sched.admit()
    # Admitted in one order, the slots handed out in another (as after a cache hit).
    ids = [2, 0, 3, 1]
    for seq, slot_id in zip(sequences, ids, strict=True):
        seq.slot = table.slots[slot_id]
        seq.computed = len(seq.tokens)
        seq.pending = 7
    step = sched.plan()
    assert [entry[0] for entry in step.entries] == [0, 1, 2, 3]
    for seq, row in step.rows:  # each sequence samples from its own token's row
        assert seq.slot is not None and step.entries[row][0] == seq.slot.id


def test_waiting_requests_are_admitted_taking_turns_between_tenants() -> None:
    table = SlotTable(1, Cache(1))
    sched = Scheduler(table, max_running=1, n_batch=64)
    names: dict[int, str] = {}

    def add(name: str, tenant: str) -> None:
        tokens = [100 + len(names), 1, 2]
        seq = Sequence(GenerationRequest(tokens, 8, tenant=tenant), Sink(), tokens, TextStream())
        names[id(seq)] = name
        sched.add(seq)

    for i in range(4):  # tenant a's backlog, then one request of b
        add(f"a{i}", "a")
    add("b0", "b")
    started = []
    while sched.waiting or sched.running:
        sched.admit()
        (seq,) = sched.running
        started.append(names[id(seq)])
        sched.finish(seq, "stop")
    # b waits for one of a's requests, not for all four; a alone is first come, first served
    assert started == ["a0", "b0", "a1", "a2", "a3"]
