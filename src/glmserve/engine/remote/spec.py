"""What a remote engine is built from: its workers, its tokenizer and how it routes.

Plain frozen dataclasses, checked once when built: a bad value raises ``ValueError``
with a message that names it (the config layer turns that into a start-up error). A
worker that is down is not a bad value; it is probed until it answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import get_args

from glmserve.config.settings import RemoteWorker, RoutingPolicy, WorkerKind

__all__ = ["WorkerKind", "Routing", "WORKER_KINDS", "ROUTINGS", "WorkerSpec", "RemoteSpec"]

# Declared once, with the settings they are read from.
Routing = RoutingPolicy
WORKER_KINDS: tuple[str, ...] = get_args(WorkerKind)
ROUTINGS: tuple[str, ...] = get_args(Routing)


WorkerSpec = RemoteWorker
"""One worker: an inference server its operator started (the ``[[models.workers]]``
entry itself, declared and checked once in the settings)."""


@dataclass(frozen=True)
class RemoteSpec:
    workers: tuple[WorkerSpec, ...]
    tokenizer: Path
    """A Hugging Face folder (tokenizer.json, tokenizer_config.json...) or a GGUF file."""
    context_size: int
    """The context window the gateway enforces; the workers must hold at least this."""
    routing: Routing = "prefix"
    block_size: int = 16
    """Tokens per block in the prefix record (chained block hashes)."""
    prefix_capacity: int = 1 << 16
    """Blocks the prefix record remembers before forgetting the least recently used."""
    escape_margin: int = 4
    """Load escape of prefix routing: the worker holding the prefix is passed over when
    it has this many more requests in flight than the least loaded worker..."""
    escape_ratio: float = 1.5
    """...and more than this multiple of its in-flight count."""
    health_interval: float = 5.0
    """Seconds between ``/health`` probes of each worker."""
    failure_threshold: int = 3
    """Consecutive failed requests that take a worker out of routing until a probe
    finds it healthy again (a refused connection takes it out at once)."""
    connect_timeout: float = 5.0
    read_timeout: float = 600.0
    """Longest silence tolerated on a worker's stream (a long prompt's prefill)."""
    vision: bool = False
    """The model sees (its capabilities): images go to the workers when the tokenizer's
    folder describes its image processor and every worker kind takes images
    (engine/remote/vision.py)."""

    def __post_init__(self) -> None:
        if not self.workers:
            raise ValueError("a remote engine needs at least one worker")
        urls = [w.base_url for w in self.workers]
        duplicates = sorted({u for u in urls if urls.count(u) > 1})
        if duplicates:
            raise ValueError(f"workers listed twice: {', '.join(duplicates)}")
        if self.routing not in ROUTINGS:
            raise ValueError(f"routing {self.routing!r} is not one of {', '.join(ROUTINGS)}")
        if self.context_size < 1:
            raise ValueError("context_size must be positive")
        if self.block_size < 1 or self.prefix_capacity < 1:
            raise ValueError("block_size and prefix_capacity must be positive")
        if self.escape_margin < 0 or self.escape_ratio < 1.0:
            raise ValueError("escape_margin must be >= 0 and escape_ratio >= 1")
        if self.health_interval <= 0 or self.failure_threshold < 1:
            raise ValueError("health_interval must be > 0 and failure_threshold >= 1")
        if self.connect_timeout <= 0 or self.read_timeout <= 0:
            raise ValueError("timeouts must be positive")
