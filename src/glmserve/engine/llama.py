"""The embedded engine: llama.cpp in-process through llama-cpp-python.

One decode thread per model runs generations one after another (continuous batching
arrives with the scheduler). The thread hands tokens to the event loop through an
asyncio queue, so the HTTP loop never waits on decoding. A new prompt reuses the KV
state of the longest prefix it shares with what the context already holds, and
``Usage.cached_tokens`` says exactly how many tokens that was.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import threading
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from glmserve.engine.text import TextStream
from glmserve.engine.types import (
    Engine,
    EngineInfo,
    EngineStats,
    FinishReason,
    Generation,
    GenerationRequest,
    SamplingParams,
    TokenOut,
    Usage,
)

__all__ = ["LlamaEngine"]

log = logging.getLogger(__name__)

_RANDOM_SEED = 0xFFFFFFFF  # llama.cpp: draw a seed at random


class _QueuedGeneration(Generation):
    """A generation run by the decode thread and read by the event loop."""

    def __init__(self, request: GenerationRequest, loop: asyncio.AbstractEventLoop) -> None:
        self.request = request
        self._loop = loop
        self._queue: asyncio.Queue[TokenOut | None] = asyncio.Queue()
        self._cancel = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        self._cancel.set()

    async def __aiter__(self) -> AsyncIterator[TokenOut]:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    # -- called from the decode thread --

    def emit(self, token: TokenOut) -> None:
        self._post(token)

    def finish(self, reason: FinishReason, usage: Usage, error: str | None = None) -> None:
        self.finish_reason, self.usage, self.error = reason, usage, error
        self._post(None)

    def _post(self, item: TokenOut | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the event loop is closed: nobody is listening any more
            self.cancel()


class LlamaEngine(Engine):
    supports_grammar = True

    def __init__(
        self,
        gguf: Path,
        *,
        context_size: int,
        threads: int,
        batch_size: int = 512,
        cap_to_trained_context: bool = False,
    ) -> None:
        self._llama = _load(gguf, context_size, threads, batch_size)
        trained = self._llama._model.n_ctx_train()
        if cap_to_trained_context and 0 < trained < context_size:
            log.info("%s: context capped at the trained %d tokens", gguf.name, trained)
            self._llama.close()
            self._llama = _load(gguf, trained, threads, batch_size)
        self._vocab = self._llama._model.vocab
        self._batch_size = batch_size
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="decode")
        self._lock = threading.Lock()
        self._live: set[_QueuedGeneration] = set()
        self._waiting = 0
        self._running = 0
        self._finished = 0
        self._cancelled = 0
        self._generated = 0
        self._canonical = 0  # leading KV positions computed by prefill in whole, aligned chunks
        self.info = self._read_info(trained)

    # -- Engine --

    def tokenize(self, text: str) -> list[int]:
        model = self._llama._model
        tokens: list[int] = model.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        if model.add_bos_token():
            bos = model.token_bos()
            if not tokens or tokens[0] != bos:
                tokens.insert(0, bos)
        return tokens

    def start(self, request: GenerationRequest) -> Generation:
        generation = _QueuedGeneration(request, asyncio.get_running_loop())
        with self._lock:
            self._waiting += 1
            self._live.add(generation)
        self._executor.submit(self._run, generation)
        return generation

    def stats(self) -> EngineStats:
        with self._lock:
            return EngineStats(
                running=self._running,
                waiting=self._waiting,
                finished=self._finished,
                cancelled=self._cancelled,
                generated_tokens=self._generated,
            )

    def close(self) -> None:
        with self._lock:
            live = list(self._live)
        for generation in live:
            generation.cancel()
        self._executor.shutdown(wait=True)
        self._llama.close()

    # -- the decode thread --

    def _run(self, gen: _QueuedGeneration) -> None:
        with self._lock:
            self._waiting -= 1
            self._running += 1
        reason: FinishReason = "error"
        usage = Usage(prompt_tokens=len(gen.request.prompt_tokens))
        error: str | None = None
        try:
            reason, usage = self._generate(gen)
        except Exception as exc:  # a failure in native code must not kill the thread
            log.exception("generation failed")
            error = f"{type(exc).__name__}: {exc}"
            self._llama.n_tokens = 0  # the KV state is unknown now: do not reuse it
            self._canonical = 0
        finally:
            with self._lock:
                self._running -= 1
                self._finished += 1
                self._cancelled += reason == "cancelled"
                self._generated += usage.completion_tokens
                self._live.discard(gen)
            gen.finish(reason, usage, error)

    def _generate(self, gen: _QueuedGeneration) -> tuple[FinishReason, Usage]:
        request = gen.request
        prompt = list(request.prompt_tokens)
        usage = Usage(prompt_tokens=len(prompt))
        if gen.cancelled:
            return "cancelled", usage
        cached = self._prefill(prompt, gen)
        if cached is None:
            return "cancelled", usage
        sampler = _sampler(request.sampling, self._llama)
        text = TextStream(request.stop)
        generated = 0
        reason: FinishReason = "length"
        try:
            while generated < request.max_tokens:
                if gen.cancelled:
                    reason = "cancelled"
                    break
                token = sampler.sample(self._llama._ctx, -1)
                generated += 1
                if _is_eog(self._vocab, token):
                    reason = "stop"
                    break
                gen.emit(TokenOut(token, text.push(self._piece(token))))
                if text.stopped:
                    reason = "stop"
                    break
                if generated < request.max_tokens:
                    if self._llama.n_tokens >= self._llama.n_ctx():
                        break  # the context window is full: "length"
                    self._llama.eval([token])
        finally:
            sampler.close()
        rest = text.flush()
        if rest and reason != "cancelled":
            gen.emit(TokenOut(-1, rest))
        return reason, Usage(len(prompt), cached, generated)

    def _prefill(self, prompt: list[int], gen: _QueuedGeneration) -> int | None:
        """Evaluate the prompt, reusing cached KV state; None if cancelled meanwhile.

        llama.cpp's numbers depend on how tokens were batched (a matrix product over
        one row and over 512 rows round differently), so reusing KV state computed in
        another shape can change a greedy completion. We therefore reuse only whole
        ``batch_size`` chunks that an earlier prompt computed in the same chunking a
        fresh prefill would use: the result is the same, cached or not. The count of
        reused tokens is exact and becomes ``cached_tokens``.
        """
        llama = self._llama
        common = _common_prefix(llama.input_ids[: llama.n_tokens], prompt)
        reuse = min(common, self._canonical, len(prompt) - 1)
        reuse -= reuse % self._batch_size
        if reuse <= 0 or not llama._ctx.kv_cache_seq_rm(-1, reuse, -1):
            reuse = 0
        llama.n_tokens = reuse
        self._canonical = reuse
        for start in range(reuse, len(prompt), self._batch_size):
            if gen.cancelled:
                return None
            chunk = prompt[start : start + self._batch_size]
            llama.eval(chunk)
            if len(chunk) == self._batch_size:
                self._canonical = start + self._batch_size
        return reuse

    def _piece(self, token: int) -> bytes:
        """The token's bytes, special tokens included as text (parsers need them)."""
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = _llama_cpp().llama_token_to_piece(self._vocab, token, buf, size, 0, True)
            if n >= 0:
                return bytes(buf.raw[:n])
            size = -n

    def _read_info(self, trained: int) -> EngineInfo:
        model = self._llama._model
        template = self._llama.metadata.get("tokenizer.chat_template")
        return EngineInfo(
            context_size=self._llama.n_ctx(),
            trained_context=trained,
            chat_template=template or None,
            bos_token=_token_text(model, model.token_bos()),
            eos_token=_token_text(model, model.token_eos()),
            description=model.desc(),
        )


def _llama_cpp() -> Any:
    import llama_cpp

    return llama_cpp


def _load(gguf: Path, context_size: int, threads: int, batch_size: int) -> Any:
    from llama_cpp import Llama

    return Llama(
        model_path=str(gguf),
        n_ctx=context_size,
        n_batch=batch_size,
        n_ubatch=batch_size,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )


def _token_text(model: Any, token: int) -> str:
    return str(model.token_get_text(token)) if token >= 0 else ""


def _is_eog(vocab: Any, token: int) -> bool:
    return bool(_llama_cpp().llama_vocab_is_eog(vocab, token))


def _common_prefix(cached: Sequence[int], prompt: Sequence[int]) -> int:
    n = min(len(cached), len(prompt))
    if n == 0:
        return 0
    same = np.asarray(cached[:n]) == np.asarray(prompt[:n])
    return n if bool(same.all()) else int(np.argmin(same))


class _ForcedSampler:
    """TEST ONLY (``SamplingParams.forced_tokens``): replays a recorded token sequence,
    then ends the generation with the model's end-of-generation token."""

    def __init__(self, tokens: tuple[int, ...], end: int) -> None:
        self._tokens = list(tokens)
        self._end = end

    def sample(self, ctx: Any, idx: int) -> int:
        return self._tokens.pop(0) if self._tokens else self._end

    def close(self) -> None:
        pass


def _sampler(params: SamplingParams, llama: Any) -> Any:
    from llama_cpp._internals import LlamaSampler

    if params.forced_tokens is not None:
        return _ForcedSampler(params.forced_tokens, llama._model.token_eos())
    n_vocab = llama.n_vocab()
    sampler = LlamaSampler()
    if params.grammar is not None:
        _add_grammar(sampler, llama, params.grammar)
    penalised = (
        params.repetition_penalty != 1.0
        or params.frequency_penalty != 0.0
        or params.presence_penalty != 0.0
    )
    if penalised:
        sampler.add_penalties(
            n_vocab,
            64,
            params.repetition_penalty,
            params.frequency_penalty,
            params.presence_penalty,
        )
    if params.greedy:
        sampler.add_greedy()
        return sampler
    if params.top_k > 0:
        sampler.add_top_k(params.top_k)
    if params.top_p < 1.0:
        sampler.add_top_p(params.top_p, 1)
    if params.min_p > 0.0:
        sampler.add_min_p(params.min_p, 1)
    sampler.add_temp(params.temperature)
    sampler.add_dist(_RANDOM_SEED if params.seed is None else params.seed & 0xFFFFFFFF)
    return sampler


def _add_grammar(sampler: Any, llama: Any, grammar: str) -> None:
    """Constrain sampling to the grammar; first in the chain so that every later step
    (greedy included) chooses among tokens the grammar allows."""
    lib = _llama_cpp()
    handle = lib.llama_sampler_init_grammar(llama._model.vocab, grammar.encode(), b"root")
    if not handle:
        raise ValueError("llama.cpp rejected the grammar")
    lib.llama_sampler_chain_add(sampler.sampler, handle)
