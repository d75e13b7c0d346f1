"""The engine in a worker process of its own, as vLLM's engine core runs.

The HTTP process keeps only the tokenizer (a vocabulary-only load of the GGUF); the
worker process holds the weights, the KV cache and the decode loop (``LlamaEngine``).
They talk over a pipe: the HTTP side sends ``start``/``cancel``; the worker sends the
tokens of each decode step in one ``tokens`` message (one pipe write and one wake-up of
the HTTP loop per step, not per token), ``end`` events, and a stats snapshot whenever its
state changes. If the
worker dies, a segfault in native code for instance, the requests in flight end with
``finish_reason="error"`` and a new worker starts by itself; the HTTP process never goes
down.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import signal
import threading
import time
from dataclasses import asdict, dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from glmserve.engine.llama.native import NativeModel
from glmserve.engine.llama.vision import VisionModel
from glmserve.engine.media import MediaPrompt, MediaTokens
from glmserve.engine.process import spawn_engine_process
from glmserve.engine.types import (
    Engine,
    EngineBusy,
    EngineInfo,
    EngineStats,
    FinishReason,
    Generation,
    GenerationRequest,
    QueuedGeneration,
    TokenOut,
    Usage,
)

__all__ = ["WorkerEngine", "LlamaWorkerSpec"]

log = logging.getLogger(__name__)

# A worker that dies again soon after its start is restarted after a delay that doubles
# up to the cap (a request that crashes it, retried in a loop, cannot keep the engine
# restarting flat out); one that ran for a while is restarted at once.
_BACKOFF_FIRST = 0.5
_BACKOFF_CAP = 30.0
_STABLE_SECONDS = 60.0


@dataclass(frozen=True)
class LlamaWorkerSpec:
    """What the worker process needs to build its LlamaEngine (picklable)."""

    gguf: Path
    context_size: int
    """Already capped at the trained context where the config did not set it."""
    threads: int
    batch_size: int
    max_running: int
    queue_limit: int
    batch_invariant: bool = False
    mmproj: Path | None = None
    """The vision projector GGUF, if the model takes images (engine/llama/vision.py)."""


class _WorkerGeneration(QueuedGeneration):
    def __init__(
        self,
        engine: WorkerEngine,
        gid: int,
        request: GenerationRequest,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._engine = engine
        self.gid = gid
        self.prompt_tokens = len(request.prompt_tokens)
        self.label = request.label or f"generation {gid}"
        self.loop = loop
        super().__init__()
        self._cancelled = False

    def cancel(self) -> None:
        if not self._cancelled and self.finish_reason is None:
            self._cancelled = True
            self._engine.send(("cancel", self.gid))

    def end(self, reason: FinishReason, usage: Usage, error: str | None) -> None:
        self.finish_reason, self.usage, self.error = reason, usage, error
        self.queue.put_nowait(None)


class WorkerEngine(Engine):
    supports_grammar = True  # the worker runs LlamaEngine, which applies grammars

    def __init__(self, spec: LlamaWorkerSpec) -> None:
        self._spec = spec
        self._vocab = NativeModel(spec.gguf, vocab_only=True)
        # Images are tokenized here too, where prompts are: the projector's preprocessing
        # says how many tokens each image takes (the worker encodes them).
        try:
            self._vision = _vision(spec, self._vocab)
        except BaseException:
            self._vocab.close()
            raise
        self.supports_images = self._vision is not None
        self._send_lock = threading.Lock()
        self._state = threading.Lock()
        self._ids = itertools.count(1)
        self._live: dict[int, _WorkerGeneration] = {}
        self._stats = EngineStats(0, 0, 0, 0, 0)
        self._closing = False
        self._restarting = False
        self.restarts = 0
        self._backoff = 0.0
        self._closed = threading.Event()
        self._conn, self._proc, self.info = self._spawn()
        self._started_at = time.monotonic()
        self._reader = threading.Thread(target=self._read, name="engine-reader", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int | None:
        pid: int | None = self._proc.pid
        return pid

    # -- Engine --

    def tokenize(self, text: str) -> list[int]:
        return self._vocab.tokenize(text)

    def grammar_parses(self, grammar: str) -> bool:
        return self._vocab.parses_grammar(grammar)

    def tokenize_media(self, prompt: MediaPrompt) -> MediaTokens:
        if self._vision is None:
            raise NotImplementedError("no projector (mmproj) is loaded")
        return self._vision.tokenize(prompt)

    def start(self, request: GenerationRequest) -> Generation:
        loop = asyncio.get_running_loop()
        gen = _WorkerGeneration(self, next(self._ids), request, loop)
        with self._state:
            # Everything in flight beyond the running sequences is waiting in the worker.
            if (
                self._restarting
                or len(self._live) - self._spec.max_running >= self._spec.queue_limit
            ):
                raise EngineBusy("the engine's queue is full or the engine is restarting")
            self._live[gen.gid] = gen
        if not self.send(("start", gen.gid, request)):
            with self._state:
                self._live.pop(gen.gid, None)
            gen.end("error", Usage(gen.prompt_tokens), "the engine process is not reachable")
        return gen

    def stats(self) -> EngineStats:
        return replace(self._stats, restarts=self.restarts, pid=self.pid, in_flight=len(self._live))

    def close(self) -> None:
        self._closing = True
        self._closed.set()
        self.send(("close",))
        self._proc.join(30)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._reader.join(10)
        if self._vision is not None:
            self._vision.close()
        self._vocab.close()

    # -- plumbing --

    def send(self, message: tuple[Any, ...]) -> bool:
        try:
            with self._send_lock:
                self._conn.send(message)
        except (OSError, ValueError):
            return False  # the worker is gone; the reader notices and restarts it
        return True

    def _spawn(self) -> tuple[Connection, Any, EngineInfo]:
        conn, proc, payload = spawn_engine_process(
            _worker_main, self._spec, name="glmserve-engine", what="engine process"
        )
        return conn, proc, EngineInfo(**payload)

    def _read(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                if self._closing:
                    return
                self._worker_died()
                continue
            self._dispatch(message)

    def _dispatch(self, message: tuple[Any, ...]) -> None:
        kind = message[0]
        if kind == "stats":
            self._stats = EngineStats(**message[1])
            return
        if kind == "tokens":
            self._deliver(message[1])
            return
        gen = self._live.get(message[1])
        if gen is None:
            return
        if kind == "end":
            _, gid, reason, usage, error = message
            with self._state:
                self._live.pop(gid, None)
            gen.loop.call_soon_threadsafe(gen.end, reason, Usage(**usage), error)

    def _deliver(self, tokens: list[tuple[int, int, str]]) -> None:
        """One step's tokens, handed to each event loop in one call."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_WorkerGeneration, TokenOut]]] = {}
        for gid, token, text in tokens:
            gen = self._live.get(gid)
            if gen is not None:
                by_loop.setdefault(gen.loop, []).append((gen, TokenOut(token, text)))
        for loop, items in by_loop.items():
            loop.call_soon_threadsafe(_put_all, items)

    def _worker_died(self) -> None:
        self._proc.join(5)  # its exit code, once it is gone
        if self._proc.is_alive():  # its pipe broke but it lives on: it is replaced
            self._proc.kill()
            self._proc.join()
        code = self._proc.exitcode
        with self._state:
            self._restarting = True
            lost, self._live = self._live, {}
        delay = self._next_delay()
        # The request started last is the likeliest cause (a grammar the worker parses
        # as it starts one, for instance): it is named first.
        running = sorted(lost.values(), key=lambda g: g.gid, reverse=True)
        names = ", ".join(g.label for g in running) or "no request"
        log.error(
            "the engine process died (exit code %s) while running %s (the last started "
            "first); restarting it in %.1f s",
            code, names, delay,
        )  # fmt: skip
        for gen in lost.values():
            usage = Usage(prompt_tokens=gen.prompt_tokens)
            error = f"the engine process died (exit code {code})"
            gen.loop.call_soon_threadsafe(gen.end, "error", usage, error)
        self._conn.close()
        self._stats = EngineStats(0, 0, 0, 0, 0)
        while not self._closed.wait(delay):
            try:
                conn, self._proc, _ = self._spawn()
            except RuntimeError:
                delay = self._next_delay()
                log.exception("restarting the engine process failed; trying again in %.1f s", delay)
                continue
            with self._send_lock, self._state:
                self._conn = conn
                self.restarts += 1
                self._started_at = time.monotonic()
                self._restarting = False
            return

    def _next_delay(self) -> float:
        """How long to wait before the next start: nothing after a worker that ran for a
        while, then doubling from _BACKOFF_FIRST up to _BACKOFF_CAP."""
        if time.monotonic() - self._started_at >= _STABLE_SECONDS:
            self._backoff = 0.0
        delay = self._backoff
        self._backoff = min(max(2 * self._backoff, _BACKOFF_FIRST), _BACKOFF_CAP)
        return delay


def _put_all(items: list[tuple[_WorkerGeneration, TokenOut]]) -> None:
    for gen, token in items:
        gen.queue.put_nowait(token)


# -- the worker process -------------------------------------------------------------


class _PipeSink:
    def __init__(self, gid: int, out: _Outbox) -> None:
        self.gid = gid
        self._out = out
        self.cancel_requested = False

    @property
    def cancelled(self) -> bool:
        return self.cancel_requested

    def emit(self, token: TokenOut) -> None:
        self._out.add((self.gid, token.token_id, token.text))

    def finish(self, reason: FinishReason, usage: Usage, error: str | None = None) -> None:
        self._out.finish(self.gid)
        self._out.send(("end", self.gid, reason, asdict(usage), error))


class _Outbox:
    """The worker's side of the pipe. Tokens wait in ``tokens`` until the decode step
    ends (``flush``); any other message flushes them first, so order is kept."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = threading.Lock()
        self.sinks: dict[int, _PipeSink] = {}
        self.tokens: list[tuple[int, int, str]] = []

    def send(self, message: tuple[Any, ...]) -> None:
        with self.lock:
            self._flush()
            self.conn.send(message)

    def add(self, token: tuple[int, int, str]) -> None:
        with self.lock:
            self.tokens.append(token)

    def flush(self) -> None:
        with self.lock:
            self._flush()

    def _flush(self) -> None:
        if self.tokens:
            tokens, self.tokens = self.tokens, []
            self.conn.send(("tokens", tokens))

    def finish(self, gid: int) -> None:
        self.sinks.pop(gid, None)


def _worker_main(conn: Connection, spec: LlamaWorkerSpec) -> None:
    from glmserve.engine.llama.engine import LlamaEngine

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the HTTP process decides when we stop
    out = _Outbox(conn)
    last: list[tuple[int, ...]] = [()]
    engine: LlamaEngine | None = None

    def after_step() -> None:
        """Send the step's tokens, and a stats snapshot when sequences start, wait or end
        (not on every decode step)."""
        out.flush()
        if engine is None:
            return
        stats = engine.stats()
        key = (stats.running, stats.waiting, stats.finished, stats.cancelled)
        if key != last[0] or stats.decode_steps % 64 == 0:
            last[0] = key
            out.send(("stats", asdict(stats)))

    try:
        engine = LlamaEngine(
            spec.gguf,
            context_size=spec.context_size,
            threads=spec.threads,
            batch_size=spec.batch_size,
            max_running=spec.max_running,
            batch_invariant=spec.batch_invariant,
            queue_limit=1 << 30,  # the HTTP side bounds the queue
            on_change=after_step,
            mmproj=spec.mmproj,
        )
    except Exception as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", asdict(engine.info)))
    after_step()
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            break  # the HTTP process is gone
        kind = message[0]
        if kind == "start":
            _, gid, request = message
            sink = _PipeSink(gid, out)
            out.sinks[gid] = sink
            try:
                engine.submit(request, sink)
            except EngineBusy as exc:
                sink.finish("error", Usage(len(request.prompt_tokens)), f"EngineBusy: {exc}")
        elif kind == "cancel":
            target = out.sinks.get(message[1])
            if target is not None:
                target.cancel_requested = True
        elif kind == "close":
            break
    engine.close()


def _vision(spec: LlamaWorkerSpec, vocab: NativeModel) -> VisionModel | None:
    """The projector over the vocabulary-only model, for tokenizing media prompts."""
    if spec.mmproj is None:
        return None
    return VisionModel(spec.mmproj, vocab, threads=spec.threads)
