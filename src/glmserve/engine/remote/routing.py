"""Which worker takes a request.

``prefix`` routing keeps a record of the token-block prefixes the gateway sent to each
worker: a prompt is cut into blocks of ``block_size`` tokens and each block is named by
a hash chained over every block before it (as nano-vllm's prefix cache names blocks), so
one hash stands for a whole prefix. A request goes to the worker holding its longest
recorded prefix, unless that worker is much busier than the least loaded one (the load
escape); a prompt with no recorded prefix goes to the least loaded worker. The record
is bounded and forgets the least recently used blocks first.

Workers report no cache events, so the record is the gateway's belief, not the worker's
state: a worker may have evicted a prefix the record still names. That costs a cache
miss, never a wrong answer.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

from glmserve.engine.remote.spec import Routing

__all__ = ["PrefixRecord", "Candidate", "Router", "block_hashes"]


def block_hashes(tokens: Sequence[int], block_size: int, parent: int = 0) -> list[int]:
    """Chained hashes of the full blocks of ``tokens``: hash i names blocks 0..i.
    ``parent`` continues a chain: the hash of the blocks that come before ``tokens``."""
    hashes: list[int] = []
    for start in range(0, len(tokens) - block_size + 1, block_size):
        parent = hash((parent, tuple(tokens[start : start + block_size])))
        hashes.append(parent)
    return hashes


class PrefixRecord:
    """Block hash -> the workers it was sent to, least recently used first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._blocks: OrderedDict[int, set[int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._blocks)

    def add(self, hashes: Sequence[int], worker: int) -> None:
        for h in hashes:
            holders = self._blocks.get(h)
            if holders is None:
                self._blocks[h] = {worker}
            else:
                holders.add(worker)
                self._blocks.move_to_end(h)
        while len(self._blocks) > self._capacity:
            self._blocks.popitem(last=False)

    def forget(self, worker: int) -> None:
        """A worker restarted (or failed): its cache is gone."""
        for h in [h for h, holders in self._blocks.items() if worker in holders]:
            holders = self._blocks[h]
            holders.discard(worker)
            if not holders:
                del self._blocks[h]

    def matched_blocks(self, hashes: Sequence[int]) -> dict[int, int]:
        """For each worker holding a prefix of ``hashes``: how many blocks it holds."""
        depth: dict[int, int] = {}
        alive: set[int] | None = None
        for i, h in enumerate(hashes):
            holders = self._blocks.get(h)
            if not holders:
                break
            alive = set(holders) if alive is None else alive & holders
            if not alive:
                break
            self._blocks.move_to_end(h)
            for worker in alive:
                depth[worker] = i + 1
        return depth


class Candidate(Protocol):
    """What the router needs to know of a worker."""

    index: int
    in_flight: int
    routed: int


class Router:
    def __init__(
        self,
        policy: Routing,
        record: PrefixRecord,
        *,
        escape_margin: int,
        escape_ratio: float,
    ) -> None:
        self.policy = policy
        self.record = record
        self._margin = escape_margin
        self._ratio = escape_ratio
        self._turn = itertools.count()

    def choose(self, candidates: Sequence[Candidate], hashes: Sequence[int]) -> Candidate:
        """The worker for a request among ``candidates`` (not empty: every one healthy
        and below its in-flight cap)."""
        if self.policy == "round-robin":
            return candidates[next(self._turn) % len(candidates)]
        least = min(candidates, key=lambda c: (c.in_flight, c.routed))
        if self.policy == "least-loaded" or not hashes:
            return least
        depth = self.record.matched_blocks(hashes)
        holders = [c for c in candidates if depth.get(c.index, 0) > 0]
        if not holders:
            return least
        best = max(holders, key=lambda c: (depth[c.index], -c.in_flight))
        if self._much_busier(best, least):
            return least
        return best

    def _much_busier(self, holder: Candidate, least: Candidate) -> bool:
        return (
            holder.in_flight - least.in_flight >= self._margin
            and holder.in_flight > self._ratio * least.in_flight
        )
