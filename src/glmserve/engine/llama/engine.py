"""The embedded engine: llama.cpp in-process, with continuous batching.

A decode thread runs the loop ``admit → plan → llama_decode → sample`` over every
running sequence at once (see scheduler.py) and hands each token to the event loop
through an asyncio queue, so the HTTP loop never waits on decoding. Prompts reuse the
KV state of earlier prompts that start the same way (slots.py), and
``Usage.cached_tokens`` says exactly how many tokens were reused.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path

from glmserve.engine.llama.native import NativeContext, NativeModel, Sampler, gpu_build
from glmserve.engine.llama.scheduler import Scheduler, Sequence, Sink, Step
from glmserve.engine.llama.slots import SlotTable
from glmserve.engine.llama.vision import ImageFeeder, VisionModel
from glmserve.engine.media import MediaPrompt, MediaTokens
from glmserve.engine.text import TextStream
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

__all__ = ["LlamaEngine"]

log = logging.getLogger(__name__)


class _QueuedGeneration(QueuedGeneration):
    """A generation run by the decode thread and read by the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        super().__init__()
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    # -- called from the decode thread --

    def emit(self, token: TokenOut) -> None:
        self._post(token)

    def finish(self, reason: FinishReason, usage: Usage, error: str | None = None) -> None:
        self.finish_reason, self.usage, self.error = reason, usage, error
        self._post(None)

    def _post(self, item: TokenOut | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self.queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self.cancel()


class LlamaEngine(Engine):
    supports_grammar = True

    def grammar_parses(self, grammar: str) -> bool:
        return self._model.parses_grammar(grammar)

    def __init__(
        self,
        gguf: Path,
        *,
        context_size: int,
        threads: int,
        batch_size: int,
        max_running: int,
        queue_limit: int,
        batch_invariant: bool = False,
        on_change: Callable[[], None] | None = None,
        mmproj: Path | None = None,
    ) -> None:
        self._on_change = on_change
        if batch_invariant and gpu_build():
            # The invariance comes from choosing CPU kernels; GPU kernels have their own
            # batch-dependent paths, so the setting would cost speed and guarantee nothing.
            log.warning("batch_invariant has no effect with a GPU build of llama.cpp")
            batch_invariant = False
        self.batch_invariant = batch_invariant
        self._model = NativeModel(gguf, batch_invariant=batch_invariant)
        self.context_size = context_size
        try:
            self._ctx = NativeContext(
                self._model,
                seq_cells=context_size,
                n_batch=batch_size + max_running,
                # Passes of batch_size tokens: a prompt chunk computed in 520-row passes
                # (512 + 8 decode rows) read a 2,000-token prompt 5-10% slower than 512
                # (docs/benchmarks.md). The exact mode keeps one pass a step.
                n_ubatch=None if batch_invariant else batch_size,
                n_seq=max_running,
                threads=threads,
                batch_invariant=batch_invariant,
            )
        except BaseException:
            self._model.close()
            raise
        try:
            self._vision, self._images = _load_vision(mmproj, self._model, self._ctx, threads)
        except BaseException:
            self._ctx.close()
            self._model.close()
            raise
        self.supports_images = self._vision is not None
        slots = SlotTable(max_running, self._ctx, exact=batch_invariant)
        self._sched = Scheduler(slots, max_running=max_running, n_batch=batch_size + max_running)
        self._queue_limit = queue_limit
        self._cond = threading.Condition()
        self._inbox: list[Sequence] = []
        self._closing = False
        self._counts = {"finished": 0, "cancelled": 0, "generated": 0, "prompt": 0, "cached": 0}
        self.info = EngineInfo(
            context_size=context_size,
            trained_context=self._model.trained_context,
            chat_template=self._model.meta("tokenizer.chat_template") or None,
            bos_token=self._model.token_text(self._model.bos),
            eos_token=self._model.token_text(self._model.eos),
            description=self._model.description(),
        )
        self._thread = threading.Thread(target=self._loop, name="decode", daemon=True)
        self._thread.start()

    # -- Engine --

    def tokenize(self, text: str) -> list[int]:
        return self._model.tokenize(text)

    def tokenize_media(self, prompt: MediaPrompt) -> MediaTokens:
        if self._vision is None:
            raise NotImplementedError("no projector (mmproj) is loaded")
        return self._vision.tokenize(prompt)

    def start(self, request: GenerationRequest) -> Generation:
        generation = _QueuedGeneration(asyncio.get_running_loop())
        self.submit(request, generation)
        return generation

    def submit(self, request: GenerationRequest, sink: Sink) -> None:
        """Queue a generation whose tokens go to ``sink`` (any thread; no event loop)."""
        seq = Sequence(
            request=request,
            sink=sink,
            tokens=list(request.prompt_tokens),
            text=TextStream(request.stop),
        )
        with self._cond:
            if len(self._inbox) + len(self._sched.waiting) >= self._queue_limit:
                raise EngineBusy(f"{self._queue_limit} requests are already waiting")
            self._inbox.append(seq)
            self._cond.notify()

    def stats(self) -> EngineStats:
        with self._cond:
            return EngineStats(
                running=len(self._sched.running),
                waiting=len(self._sched.waiting) + len(self._inbox),
                finished=self._counts["finished"],
                cancelled=self._counts["cancelled"],
                generated_tokens=self._counts["generated"],
                prompt_tokens=self._counts["prompt"],
                cached_tokens=self._counts["cached"],
                kv_cells=self._ctx.kv_cells,
                kv_cells_used=self._sched.slots.cells_in_use(),
                decode_steps=self._sched.steps,
                pid=os.getpid(),
            )

    def close(self) -> None:
        with self._cond:
            self._closing = True  # every sequence still queued or running is cancelled
            self._cond.notify()
        self._thread.join()
        if self._images is not None:
            self._images.close()
        if self._vision is not None:
            self._vision.close()
        self._ctx.close()
        self._model.close()

    # -- the decode thread --

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not (self._inbox or self._sched.has_work() or self._closing):
                    self._cond.wait()
                for seq in self._inbox:
                    self._sched.add(seq)
                self._inbox.clear()
                closing = self._closing
            self._drop_cancelled()
            if closing and not self._sched.has_work():
                return
            try:
                self._step()
            except Exception as exc:  # a failure in native code must not kill the thread
                log.exception("decode step failed")
                self._fail_running(f"{type(exc).__name__}: {exc}")
            if self._on_change is not None:
                self._on_change()

    def _step(self) -> None:
        sched = self._sched
        sched.admit()
        if self._images is not None:  # images the running sequences reached (vision.py)
            self._images.feed(sched.running)
        step = sched.plan()
        if not step.entries:
            return
        if self._ctx.decode(step.entries) != 0:
            raise RuntimeError("llama.cpp found no room in the KV cache")
        sched.steps += 1
        sched.committed(step)
        self._sample(step)

    def _sample(self, step: Step) -> None:
        for seq, row in step.rows:
            if seq.sampler is None:
                try:
                    seq.sampler = Sampler(seq.request.sampling, self._model)
                except ValueError as exc:  # a grammar llama.cpp rejects: this request only
                    self._finish(seq, "error", str(exc))
                    continue
            assert isinstance(seq.sampler, Sampler)
            token = seq.sampler.sample(self._ctx, row)
            seq.generated += 1
            reason = self._after_token(seq, token)
            if reason is not None:
                self._finish(seq, reason)

    def _after_token(self, seq: Sequence, token: int) -> FinishReason | None:
        if self._model.is_eog(token) and not seq.request.ignore_eos:
            return "stop"
        seq.sink.emit(TokenOut(token, seq.text.push(self._model.piece(token))))
        if seq.text.stopped:
            return "stop"
        if seq.generated >= seq.request.max_tokens or len(seq.tokens) >= self.context_size:
            return "length"
        seq.pending = token
        return None

    def _finish(self, seq: Sequence, reason: FinishReason, error: str | None = None) -> None:
        if reason in ("length", "stop") and error is None:
            rest = seq.text.flush()
            if rest:
                seq.sink.emit(TokenOut(-1, rest))
        if isinstance(seq.sampler, Sampler):
            seq.sampler.close()
            seq.sampler = None
        with self._cond:
            self._sched.finish(seq, reason, error)
            self._counts["finished"] += 1
            self._counts["cancelled"] += reason == "cancelled"
            self._counts["generated"] += seq.generated
            self._counts["prompt"] += seq.prompt_tokens
            self._counts["cached"] += seq.cached

    def _drop_cancelled(self) -> None:
        for seq in [*self._sched.waiting, *self._sched.running]:
            if seq.sink.cancelled or self._closing:
                self._finish(seq, "cancelled")

    def _fail_running(self, error: str) -> None:
        for seq in list(self._sched.running):
            self._finish(seq, "error", error)


def _load_vision(
    mmproj: Path | None, model: NativeModel, ctx: NativeContext, threads: int
) -> tuple[VisionModel | None, ImageFeeder | None]:
    """The projector and the decode thread's image feeder, when a projector is configured."""
    if mmproj is None:
        return None, None
    vision = VisionModel(mmproj, model, threads=threads)
    return vision, ImageFeeder(vision, ctx)
