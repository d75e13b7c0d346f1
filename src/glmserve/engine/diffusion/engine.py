"""A diffusers pipeline in an engine process of its own (child.py), started on the first
request and shared by every request for the model.

The process generates one job at a time; the others wait in order, at most
``queue_limit`` of them (more: ``DiffusionBusy``). Each job's progress (denoising steps
done) is kept here for the serving layer's tasks and metrics. If the process dies, the
jobs in flight fail (``DiffusionFailed``) and the next request starts a new one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

from glmserve.engine.diffusion.child import DiffusionSpec, child_main
from glmserve.engine.diffusion.folder import pipeline_info
from glmserve.engine.diffusion.types import (
    Clip,
    DiffusionBusy,
    DiffusionFailed,
    DiffusionJob,
    OnProgress,
    Picture,
    PipelineInfo,
)
from glmserve.engine.process import spawn_engine_process

__all__ = ["DiffusionEngine", "DiffusionStats"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiffusionStats:
    loaded: bool
    running: int
    """Jobs the engine process holds (the one generating and those queued there)."""
    steps_done: int
    """Denoising steps of the job generating now."""
    steps_total: int
    generations: int
    """Jobs finished since the server started."""
    restarts: int


@dataclass
class _Live:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    on_progress: OnProgress | None
    done: int = 0
    total: int = 0


class DiffusionEngine:
    kind = "diffusers"

    def __init__(self, spec: DiffusionSpec, *, queue_limit: int = 16) -> None:
        self.spec = spec
        self.info: PipelineInfo = pipeline_info(spec.path)
        self.queue_limit = queue_limit
        self._send_lock = threading.Lock()
        self._state = threading.Lock()
        self._starting = threading.Lock()
        self._ids = itertools.count(1)
        self._live: dict[int, _Live] = {}
        self._closing = False
        self._died = False
        self.restarts = 0
        self._generations = 0
        self._current: int | None = None
        self._conn: Connection | None = None
        self._proc: Any = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int | None:
        pid: int | None = self._proc.pid if self._proc is not None else None
        return pid

    def start(self) -> None:
        """Start the engine process if it is not running (blocks while the pipeline
        loads); raises DiffusionFailed when it cannot load."""
        with self._starting:
            if self._proc is not None or self._closing:
                return
            try:
                self._conn, self._proc, _ = spawn_engine_process(
                    child_main, self.spec, name="glmserve-diffusion", what="diffusion process"
                )
            except RuntimeError as exc:
                raise DiffusionFailed(str(exc)) from None
            if self._died:
                self.restarts += 1
                self._died = False
            self._reader = threading.Thread(
                target=self._read, args=(self._conn,), name="diffusion-reader", daemon=True
            )
            self._reader.start()

    async def generate(
        self, job: DiffusionJob, on_progress: OnProgress | None = None
    ) -> list[Picture] | Clip:
        """Run a job to its end: PNG pictures for an image pipeline, a clip for a video
        one. Raises DiffusionBusy (queue full) or DiffusionFailed; a cancelled caller
        cancels the job in the engine process too."""
        with self._state:
            if len(self._live) > self.queue_limit:
                raise DiffusionBusy()
        if self._proc is None:
            await asyncio.to_thread(self.start)
        loop = asyncio.get_running_loop()
        job_id = next(self._ids)
        live = _Live(loop, loop.create_future(), on_progress, 0, job.steps)
        with self._state:
            self._live[job_id] = live
        if not self._send(("run", job_id, job)):
            with self._state:
                self._live.pop(job_id, None)
            raise DiffusionFailed("the diffusion engine process is not reachable")
        try:
            result: list[Picture] | Clip = await live.future
        except asyncio.CancelledError:
            self._send(("cancel", job_id))
            with self._state:
                self._live.pop(job_id, None)
            raise
        return result

    def stats(self) -> DiffusionStats:
        with self._state:
            current = self._live.get(self._current) if self._current is not None else None
            return DiffusionStats(
                loaded=self._proc is not None,
                running=len(self._live),
                steps_done=current.done if current else 0,
                steps_total=current.total if current else 0,
                generations=self._generations,
                restarts=self.restarts,
            )

    def close(self) -> None:
        with self._starting:
            self._closing = True
        if self._proc is not None:
            self._send(("close",))
            self._proc.join(30)
            if self._proc.is_alive():
                self._proc.kill()
                self._proc.join()
        if self._reader is not None:
            self._reader.join(10)

    # -- plumbing --

    def _send(self, message: tuple[Any, ...]) -> bool:
        try:
            with self._send_lock:
                if self._conn is None:
                    return False
                self._conn.send(message)
        except (OSError, ValueError):
            return False
        return True

    def _read(self, conn: Connection) -> None:
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                if not self._closing:
                    self._process_died()
                return
            kind, job_id = message[0], message[1]
            if kind == "progress":
                self._progress(job_id, message[2], message[3])
                continue
            with self._state:
                live = self._live.pop(job_id, None)
                if self._current == job_id:
                    self._current = None
                self._generations += kind == "done"
            if live is not None:
                value = message[2] if kind == "done" else DiffusionFailed(message[2])
                _resolve(live, value)

    def _progress(self, job_id: int, done: int, total: int) -> None:
        with self._state:
            live = self._live.get(job_id)
            self._current = job_id
            if live is None:
                return
            live.done, live.total = done, total
        if live.on_progress is not None:
            live.loop.call_soon_threadsafe(live.on_progress, done, total)

    def _process_died(self) -> None:
        proc = self._proc
        log.error("the diffusion engine process died (exit code %s)", proc.exitcode)
        proc.join()
        with self._starting:  # first: a request that sees the failure starts a new one
            self._conn, self._proc, self._reader = None, None, None
            self._died = True
        with self._state:
            failed = list(self._live.values())
            self._live.clear()
            self._current = None
        for live in failed:
            _resolve(live, DiffusionFailed("the diffusion engine process died"))


def _resolve(live: _Live, value: Any) -> None:
    def settle() -> None:
        if live.future.done():
            return
        if isinstance(value, BaseException):
            live.future.set_exception(value)
        else:
            live.future.set_result(value)

    if not live.loop.is_closed():
        live.loop.call_soon_threadsafe(settle)
