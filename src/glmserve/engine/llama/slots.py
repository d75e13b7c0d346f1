"""Sequence slots and the prefix cache.

Every sequence decodes in a slot: a llama.cpp sequence id with a KV stream of its own,
big enough for one full context. When a sequence finishes its slot keeps the KV state of
everything it computed, so a later prompt that starts the same way reuses it: by taking
the idle slot over (no copy), or, if the slot is still busy with a running sequence, by
copying its stream into a free slot. A new sequence takes, in order: the idle slot with
the longest reusable prefix; otherwise, among the idle slots that keep the busy ones
consecutive (each gap in the busy slot ids costs llama.cpp another pass over the
weights every decode step), an empty slot, then the least recently used one.

Any computed prefix of at least ``MIN_REUSE`` tokens is reused, generated tokens
included (as llama-server's prompt cache does), and so is a shorter prompt that an idle
slot holds whole; a shorter shared prefix is not worth copying a stream for. In the
default (fast) mode a new sequence that lands on a slot by the other rules also reuses
whatever prefix that slot shares with it, however short (a chat template's opening
tokens, a system prompt), and among those slots the one that shares the most is taken:
the same eviction, fewer tokens to compute. The last prompt token is always computed,
for its logits; in the exact mode (batch-invariant arithmetic) the last two are, so
that a hit leaves a greedy completion bitwise unchanged. In the default (fast) mode a
hit computes the suffix in other batch shapes than a fresh prefill would, which may
change a greedy completion where two tokens are nearly tied (docs/architecture.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

__all__ = ["MIN_REUSE", "KvOps", "Slot", "SlotTable", "common_prefix"]

MIN_REUSE = 32


class KvOps(Protocol):
    def seq_rm(self, seq: int, start: int = -1, end: int = -1) -> bool: ...

    def copy_prefix(self, src: int, dst: int, length: int) -> None: ...


@dataclass(eq=False)
class Slot:
    id: int
    tokens: list[int] = field(default_factory=list)
    """Tokens whose KV state the slot holds, at positions 0..len-1."""
    busy: bool = False
    last_used: int = 0


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    if n == 0:
        return 0
    same = np.asarray(a[:n]) == np.asarray(b[:n])
    return n if bool(same.all()) else int(np.argmin(same))


def runs(ids: set[int]) -> int:
    """How many runs of consecutive numbers ``ids`` makes ({0, 1, 3}: 2)."""
    return sum(1 for i in ids if i - 1 not in ids)


class SlotTable:
    def __init__(self, n_slots: int, kv: KvOps, *, exact: bool = False) -> None:
        self.slots = [Slot(i) for i in range(n_slots)]
        self.exact = exact
        self._kv = kv
        self._clock = 0

    def acquire(self, tokens: list[int]) -> tuple[Slot, int] | None:
        """A slot for a new sequence and how many leading tokens it already holds;
        None if every slot is busy."""
        idle = [s for s in self.slots if not s.busy]
        if not idle:
            return None
        limit = self._limit(tokens)
        common = {s.id: common_prefix(s.tokens, tokens) for s in self.slots}
        source, reuse = self._best_source(tokens, common, limit)
        if source is not None and not source.busy:
            target = source
            self._kv.seq_rm(target.id, reuse, -1)
        else:
            # Keep the busy slots consecutive (llama.cpp decodes a run of consecutive
            # sequence ids in one pass over the weights, and each gap costs another pass:
            # docs/architecture.md, "Batch composition"), then (fast mode) the longest
            # shared prefix, then an empty slot, then the least recently used cache.
            busy = {s.id for s in self.slots if s.busy}
            shared = {s.id: 0 if self.exact else min(common[s.id], limit) for s in idle}
            target = min(
                idle,
                key=lambda s: (runs(busy | {s.id}), -shared[s.id], len(s.tokens) > 0, s.last_used),
            )
            if source is not None:
                self._kv.copy_prefix(source.id, target.id, reuse)
            else:
                reuse = shared[target.id]
                self._kv.seq_rm(target.id, reuse if reuse > 0 else -1, -1)
        target.tokens = list(tokens[:reuse])
        target.busy = True
        return target, reuse

    def release(self, slot: Slot, *, keep: bool = True) -> None:
        """The sequence is done; its KV state stays for later prompts unless ``keep`` is
        false (after an error the state is not trusted)."""
        self._clock += 1
        slot.busy = False
        slot.last_used = self._clock
        if not keep:
            self._kv.seq_rm(slot.id, -1, -1)
            slot.tokens = []

    def cells_in_use(self) -> int:
        return sum(len(s.tokens) for s in self.slots)

    def _best_source(
        self, tokens: list[int], common: dict[int, int], limit: int
    ) -> tuple[Slot | None, int]:
        best: Slot | None = None
        best_reuse = 0
        for slot in self.slots:
            reuse = min(common[slot.id], limit)
            whole = common[slot.id] >= len(tokens) - 1 and not slot.busy  # a repeated short prompt
            reuse = reuse if reuse >= MIN_REUSE or whole else 0
            better = reuse > best_reuse
            tie_prefers_idle = reuse == best_reuse and best is not None and best.busy
            if better or (reuse > 0 and tie_prefers_idle and not slot.busy):
                best, best_reuse = slot, reuse
        return (best, best_reuse) if best_reuse > 0 else (None, 0)

    def _limit(self, tokens: list[int]) -> int:
        """The most of a prompt a hit may reuse: all but the tokens always computed. The
        last prompt token is always computed, for its logits; in the exact mode the last
        two are: llama.cpp computes attention for a single query with other kernels than
        for several, so a token computed alone would differ from the same token computed
        in a prompt chunk (docs/architecture.md)."""
        return max(len(tokens) - (2 if self.exact else 1), 0)
