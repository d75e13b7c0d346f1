"""An embedding model in a worker process of its own, batched across requests.

The HTTP process keeps a vocabulary-only load of the GGUF (tokenizing and counting
tokens is quick and needs no weights); the worker process holds the weights. Requests
reach it as token lists over a pipe. Whatever has arrived while the worker was busy is
taken together, in rounds of one decode's worth of tokens (the batch size; at least one
request): the inputs of a round's requests are pooled, then each gets its vectors back.
Requests join a round taking turns between tenants (the API keys), so one tenant's
backlog delays another tenant's request by a round, not by the whole backlog. If the
worker dies, the requests in flight fail (``EmbeddingFailed``) and a new worker starts
by itself.

The worker starts on the first request, not with the server: a server that is never
asked for embeddings never holds the embedding weights (docs/embeddings.md). What the
model is (dimensions, pooling, window) is read from the GGUF's metadata at start, so a
file that is not an embedding model is still refused when the server starts.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from glmserve.engine.llama.embedding import (
    EmbeddingInfo,
    EmbeddingModel,
    info_from_metadata,
    load_vocab,
    pair,
    tokenize,
)
from glmserve.engine.process import spawn_engine_process
from glmserve.engine.types import EmbeddingFailed

__all__ = ["EmbeddingEngine", "EmbeddingFailed", "EmbeddingEngineSpec"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbeddingEngineSpec:
    """What the worker process needs to load the model (picklable)."""

    gguf: Path
    threads: int
    batch_size: int
    """Tokens per decode; one input must fit, and inputs share it as sequences."""


class EmbeddingEngine:
    def __init__(self, spec: EmbeddingEngineSpec) -> None:
        self.spec = spec
        self._vocab = load_vocab(spec.gguf)
        try:
            self.info: EmbeddingInfo = info_from_metadata(self._vocab)
        except ValueError:
            self._vocab.close()
            raise
        self._send_lock = threading.Lock()
        self._state = threading.Lock()
        self._starting = threading.Lock()
        self._ids = itertools.count(1)
        self._live: dict[int, tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]]] = {}
        self._closing = False
        self.restarts = 0
        """Times the engine process died and a new one was started."""
        self._died = False
        self._conn: Connection | None = None
        self._proc: Any = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        """The engine process, once the first request has started it."""
        pid: int | None = self._proc.pid if self._proc is not None else None
        return pid

    def start(self) -> None:
        """Start the engine process if it is not running yet (blocks while it loads);
        raises EmbeddingFailed when it cannot load."""
        with self._starting:
            if self._proc is not None or self._closing:
                return
            try:
                self._conn, self._proc, info = self._spawn()
            except RuntimeError as exc:
                raise EmbeddingFailed(str(exc)) from None
            if self._died:
                self.restarts += 1
                self._died = False
            if replace(info, description="") != replace(self.info, description=""):
                log.warning("embedding model: metadata said %s, the weights %s", self.info, info)
                self.info = info
            self._reader = threading.Thread(
                target=self._read, args=(self._conn,), name="embedding-reader", daemon=True
            )
            self._reader.start()

    def tokenize(self, text: str) -> list[int]:
        """The input's token IDs with the model's own special tokens ([CLS] ... [SEP])."""
        return tokenize(self._vocab, text)

    def pair(self, query: str, document: str, window: int) -> list[int]:
        """A reranker's input for a query and a document (see ``embedding.pair``)."""
        return pair(self._vocab, query, document, window)

    async def embed(self, items: Sequence[Sequence[int]], tenant: str = "") -> list[list[float]]:
        """The pooled vectors of token lists (in order); raises EmbeddingFailed.
        ``tenant``: whose request it is (an opaque id), for the turns between tenants."""
        if self._proc is None:
            await asyncio.to_thread(self.start)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        job = next(self._ids)
        with self._state:
            self._live[job] = (loop, future)
        if not self._send(("embed", job, [list(ids) for ids in items], tenant)):
            with self._state:
                self._live.pop(job, None)
            raise EmbeddingFailed("the embedding engine process is not reachable")
        result = await future
        vectors: list[list[float]] = result
        return vectors

    def close(self) -> None:
        with self._starting:  # a start under way finishes first, then nothing starts
            self._closing = True
        if self._proc is not None:
            self._send(("close",))
            self._proc.join(30)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        if self._reader is not None:
            self._reader.join(10)
        self._vocab.close()

    # -- plumbing --

    def _send(self, message: tuple[Any, ...]) -> bool:
        try:
            with self._send_lock:
                if self._conn is None:
                    return False
                self._conn.send(message)
        except (OSError, ValueError):
            return False  # the worker is gone; the reader notices and restarts it
        return True

    def _spawn(self) -> tuple[Connection, Any, EmbeddingInfo]:
        conn, proc, payload = spawn_engine_process(
            _worker_main, self.spec, name="glmserve-embedding", what="embedding process"
        )
        return conn, proc, EmbeddingInfo(**payload)

    def _read(self, conn: Connection) -> None:
        while True:
            try:
                kind, job, payload = conn.recv()
            except (EOFError, OSError):
                if not self._closing:
                    self._worker_died()
                return
            with self._state:
                entry = self._live.pop(job, None)
            if entry is not None:
                _resolve(entry, payload if kind == "done" else EmbeddingFailed(payload))

    def _worker_died(self) -> None:
        """Fail what was in flight; the next request starts a new engine process."""
        proc = self._proc
        log.error("the embedding engine process died (exit code %s)", proc.exitcode)
        with self._state:
            failed = list(self._live.values())
            self._live.clear()
        for entry in failed:
            _resolve(entry, EmbeddingFailed("the embedding engine process died"))
        proc.join()
        with self._starting:
            self._conn, self._proc, self._reader = None, None, None
            self._died = True


def _resolve(entry: tuple[asyncio.AbstractEventLoop, asyncio.Future[Any]], value: Any) -> None:
    loop, future = entry

    def settle() -> None:
        if future.done():
            return
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)

    if not loop.is_closed():
        loop.call_soon_threadsafe(settle)


def _worker_main(conn: Connection, spec: EmbeddingEngineSpec) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    try:
        model = EmbeddingModel(spec.gguf, threads=spec.threads, batch_size=spec.batch_size)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", asdict(model.info)))
    turns = Turns()
    try:
        while _take_waiting(conn, turns):
            _run(conn, model, turns.round(spec.batch_size))
    finally:
        model.close()


Job = tuple[int, list[list[int]]]


class Turns:
    """Requests waiting in the worker, by tenant, and whose turn it is."""

    def __init__(self) -> None:
        self._waiting: dict[str, deque[Job]] = {}
        self._last: dict[str, int] = {}
        self._turns = 0

    def __bool__(self) -> bool:
        return bool(self._waiting)

    def add(self, tenant: str, job: Job) -> None:
        self._waiting.setdefault(tenant, deque()).append(job)

    def round(self, budget: int) -> list[Job]:
        """The next round: each tenant's oldest request in turn (the tenant whose last
        turn is longest ago first, a new one before all), while their tokens fit in
        ``budget`` tokens; at least one request."""
        jobs: list[Job] = []
        used = 0
        while self._waiting:
            tenant = min(self._waiting, key=lambda t: self._last.get(t, 0))
            queue = self._waiting[tenant]
            size = sum(len(ids) for ids in queue[0][1])
            if jobs and used + size > budget:
                break
            jobs.append(queue.popleft())
            used += size
            self._turns += 1
            self._last[tenant] = self._turns
            if not queue:
                del self._waiting[tenant]
        if len(self._last) > 1024:  # forget tenants gone quiet
            self._last = {t: n for t, n in self._last.items() if t in self._waiting}
        return jobs


def _take_waiting(conn: Connection, turns: Turns) -> bool:
    """Every message already waiting, after blocking for one if nothing is queued in
    ``turns``; False: stop."""
    while not turns or conn.poll(0):
        try:
            message = conn.recv()
        except EOFError:
            return False
        if message[0] == "close":
            return False
        turns.add(message[3], (message[1], message[2]))
    return True


def _run(conn: Connection, model: EmbeddingModel, jobs: list[Job]) -> None:
    """Pool every job's inputs together; on a failure, each job on its own, so one bad
    request does not fail its neighbours."""
    everything = [ids for _, items in jobs for ids in items]
    try:
        vectors = model.embed(everything)
    except Exception:
        if len(jobs) > 1:
            for one in jobs:
                _run(conn, model, [one])
            return
        conn.send(("error", jobs[0][0], "the embedding engine failed to pool the input"))
        log.exception("embedding failed")
        return
    start = 0
    for job, items in jobs:
        conn.send(("done", job, vectors[start : start + len(items)]))
        start += len(items)
