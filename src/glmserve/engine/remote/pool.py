"""The workers of one remote engine and their bookkeeping: who takes a request, what
each has in flight, what failed, what was served from cache. One lock guards it all:
requests start on callers' threads and end on the engine's loop."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from glmserve.engine.remote.errors import WorkerError, WorkerUnreachable
from glmserve.engine.remote.replica import Replica, WorkerStats
from glmserve.engine.remote.routing import PrefixRecord, Router, block_hashes
from glmserve.engine.remote.spec import RemoteSpec
from glmserve.engine.types import EngineBusy

__all__ = ["Pool", "ReplicaOutcome"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplicaOutcome:
    """What a finished request on a worker leaves behind."""

    hashes: Sequence[int]
    """Block hashes of the prompt and the generated tokens (for the prefix record);
    empty when the generated tokens are not all known."""
    prompt_tokens: int
    cached_tokens: int
    generated_tokens: int
    cancelled: bool = False


class Pool:
    def __init__(self, spec: RemoteSpec, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.spec = spec
        self.replicas = [Replica(i, w, spec, transport) for i, w in enumerate(spec.workers)]
        self.router = Router(
            spec.routing,
            PrefixRecord(spec.prefix_capacity),
            escape_margin=spec.escape_margin,
            escape_ratio=spec.escape_ratio,
        )
        self._lock = threading.Lock()
        self.finished = 0
        self.cancelled = 0
        self.prompt_tokens = 0
        self.cached_tokens = 0
        self.generated_tokens = 0

    def hashes(self, tokens: Sequence[int]) -> list[int]:
        if self.spec.routing != "prefix":
            return []
        return block_hashes(tokens, self.spec.block_size)

    def extend(
        self, hashes: Sequence[int], prompt: Sequence[int], generated: Sequence[int]
    ) -> list[int]:
        """``hashes`` (the prompt's) continued over the generated tokens."""
        if self.spec.routing != "prefix":
            return []
        size = self.spec.block_size
        done = len(hashes) * size
        tail = [*prompt[done:], *generated]
        return [*hashes, *block_hashes(tail, size, hashes[-1] if hashes else 0)]

    def take(self, hashes: Sequence[int]) -> Replica:
        """The worker for a new request, now counted as in flight there.

        Healthy workers with room first. If every healthy worker is at its cap:
        EngineBusy. If none is healthy, one that is down still takes the request, so it
        fails as unreachable (or succeeds if the worker is back before its probe says so).
        """
        with self._lock:
            ready = [r for r in self.replicas if r.available]
            if not ready:
                if any(r.breaker.routable for r in self.replicas):
                    raise EngineBusy("every worker has its max_in_flight requests")
                ready = [r for r in self.replicas if r.in_flight < r.spec.max_in_flight]
                if not ready:
                    raise EngineBusy("every worker has its max_in_flight requests")
            return self._send(ready, hashes)

    def retake(self, hashes: Sequence[int], tried: Sequence[Replica]) -> Replica | None:
        """Another healthy worker with room for a request that failed before its first
        token, or None."""
        with self._lock:
            ready = [r for r in self.replicas if r.available and r not in tried]
            return self._send(ready, hashes) if ready else None

    def _send(self, ready: list[Replica], hashes: Sequence[int]) -> Replica:
        chosen = self.router.choose(ready, hashes)
        assert isinstance(chosen, Replica)
        chosen.in_flight += 1
        chosen.routed += 1
        if hashes:
            self.router.record.add(hashes, chosen.index)
        return chosen

    def done(self, replica: Replica, outcome: ReplicaOutcome) -> None:
        with self._lock:
            replica.in_flight -= 1
            replica.finished += 1
            replica.prompt_tokens += outcome.prompt_tokens
            replica.cached_tokens += outcome.cached_tokens
            replica.generated_tokens += outcome.generated_tokens
            if not outcome.cancelled:
                replica.breaker.succeeded()
            if outcome.hashes:
                self.router.record.add(outcome.hashes, replica.index)
            self.finished += 1
            self.cancelled += outcome.cancelled
            self.prompt_tokens += outcome.prompt_tokens
            self.cached_tokens += outcome.cached_tokens
            self.generated_tokens += outcome.generated_tokens

    def failed(self, replica: Replica, error: WorkerError, generated: int = 0) -> None:
        with self._lock:
            replica.in_flight -= 1
            replica.errors += 1
            replica.generated_tokens += generated
            self.generated_tokens += generated
            if error.counts_against_worker:
                out = replica.breaker.failed(
                    str(error), at_once=isinstance(error, WorkerUnreachable)
                )
                if out:
                    self.router.record.forget(replica.index)
                    log.warning("worker %s taken out of routing: %s", replica.spec.url, error)

    def ended_without_worker(self, cancelled: bool) -> None:
        """A request that ended with no worker holding it (all failed, or none left)."""
        with self._lock:
            self.finished += 1
            self.cancelled += cancelled

    def probed(self, replica: Replica, healthy: bool, error: str | None) -> None:
        with self._lock:
            changed = replica.breaker.probed(healthy, error)
            if changed and not healthy:
                self.router.record.forget(replica.index)
        if changed:
            if healthy:
                log.info("worker %s is healthy again", replica.spec.url)
            else:
                log.warning("worker %s is down: %s", replica.spec.url, error)

    def in_flight(self) -> int:
        with self._lock:
            return sum(r.in_flight for r in self.replicas)

    def worker_stats(self) -> tuple[WorkerStats, ...]:
        with self._lock:
            return tuple(r.stats() for r in self.replicas)
