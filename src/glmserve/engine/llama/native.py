"""A thin, typed layer over llama.cpp's C API (through llama-cpp-python's ctypes bindings).

Only what the engine needs: load a model, tokenize and detokenize, decode a batch of
tokens from many sequences, read logits rows, move KV state between sequences, and
build per-request sampler chains.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import llama_cpp as C
import numpy as np

from glmserve.engine.types import SamplingParams

__all__ = ["BatchEntry", "NativeModel", "NativeContext", "Sampler", "gpu_build"]

_RANDOM_SEED = 0xFFFFFFFF  # llama.cpp: draw a seed at random
_backend_ready = False
_tiled_matmul: bool | None = None

log = logging.getLogger(__name__)

BatchEntry = tuple[int, int, int, bool]
"""(sequence id, position, token, whether its logits are wanted)."""


def _init_backend() -> None:
    global _backend_ready  # process-wide native initialisation, done once
    if not _backend_ready:
        C.llama_log_set(_llama_log, ctypes.c_void_p(0))
        C.llama_backend_init()
        _backend_ready = True


_LOAD_NOISE = (b"control-looking token", b"using full-size SWA cache")
"""Lines llama.cpp logs as errors while loading a healthy model (docs/console.md)."""


@C.llama_log_callback  # type: ignore[untyped-decorator]
def _llama_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    """llama.cpp's own log: errors to stderr, except its load-time noise; the rest at
    debug level."""
    if level == 3 and not any(noise in text for noise in _LOAD_NOISE):  # GGML_LOG_LEVEL_ERROR
        sys.stderr.write(text.decode(errors="replace"))
    elif log.isEnabledFor(logging.DEBUG):
        log.debug("llama.cpp: %s", text.decode(errors="replace").rstrip())


def gpu_build() -> bool:
    """Whether this llama.cpp was built with a GPU backend (CUDA, Metal, Vulkan...)."""
    return bool(C.llama_supports_gpu_offload())


def _use_tiled_matmul(enabled: bool) -> None:
    """Switch ggml's tiled K-quant matmul (taken for batches of 8 rows or more) on or off.

    ggml reads GGML_CPU_TILED_MM once, at the first matrix product of the process, so
    the first engine of a process decides; the worker runs one engine per process.
    """
    global _tiled_matmul
    if _tiled_matmul is None:
        _tiled_matmul = enabled
        os.environ["GGML_CPU_TILED_MM"] = "1" if enabled else "0"
    elif _tiled_matmul != enabled:
        log.warning(
            "batch_invariant differs between engines of one process; the tiled matmul stays %s",
            "on" if _tiled_matmul else "off",
        )


class NativeModel:
    """A model's weights (or only its vocabulary).

    ``batch_invariant`` loads the weights without llama.cpp's repacked CPU layouts,
    whose kernels round differently for 1-3 rows than for 4 or more: with them a
    token's logits depend on how many other rows share its batch.
    """

    def __init__(
        self, path: Path, *, vocab_only: bool = False, batch_invariant: bool = False
    ) -> None:
        _init_backend()
        params = C.llama_model_default_params()
        params.vocab_only = vocab_only
        if batch_invariant and not vocab_only:
            params.use_extra_bufts = False
        self._model = C.llama_model_load_from_file(str(path).encode(), params)
        if not self._model:
            raise ValueError(f"llama.cpp could not load {path} (not a GGUF model it supports)")
        self.vocab = C.llama_model_get_vocab(self._model)
        self.n_vocab: int = C.llama_vocab_n_tokens(self.vocab)
        self.trained_context: int = C.llama_model_n_ctx_train(self._model) or self._gguf_context()
        self.bos: int = C.llama_vocab_bos(self.vocab)
        self.eos: int = C.llama_vocab_eos(self.vocab)
        self.add_bos: bool = bool(C.llama_vocab_get_add_bos(self.vocab))

    @property
    def handle(self) -> Any:
        return self._model

    def meta(self, key: str) -> str | None:
        size = 1 << 16
        while True:
            buf = ctypes.create_string_buffer(size)
            n = C.llama_model_meta_val_str(self._model, key.encode(), buf, size)
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8", errors="replace")
            size = n + 1

    def _gguf_context(self) -> int:
        """The trained context from the GGUF's metadata: a vocabulary-only load leaves
        llama.cpp's hyperparameters unread (0), and the served context is capped by it."""
        arch = self.meta("general.architecture")
        value = self.meta(f"{arch}.context_length") if arch else None
        return int(value) if value and value.isdigit() else 0

    def description(self) -> str:
        buf = ctypes.create_string_buffer(256)
        C.llama_model_desc(self._model, buf, 256)
        return buf.value.decode("utf-8", errors="replace")

    def token_text(self, token: int) -> str:
        if token < 0:
            return ""
        raw: bytes = C.llama_vocab_get_text(self.vocab, token)
        return raw.decode("utf-8", errors="replace")

    def parses_grammar(self, grammar: str) -> bool:
        """Whether llama.cpp's grammar parser takes ``grammar`` for this vocabulary (the
        caller bounds its nesting first: the parser is recursive)."""
        sampler = C.llama_sampler_init_grammar(self.vocab, grammar.encode(), b"root")
        if not sampler:
            return False
        C.llama_sampler_free(sampler)
        return True

    def tokenize(self, text: str) -> list[int]:
        """Tokens of a rendered prompt: special tokens parsed, BOS added once if wanted."""
        data = text.encode("utf-8")
        size = len(data) + 8
        while True:
            out = (C.llama_token * size)()
            n = C.llama_tokenize(self.vocab, data, len(data), out, size, False, True)
            if n >= 0:
                tokens = list(out[:n])
                break
            size = -n
        if self.add_bos and (not tokens or tokens[0] != self.bos):
            tokens.insert(0, self.bos)
        return tokens

    def piece(self, token: int) -> bytes:
        """The token's bytes, special tokens included as text (parsers need them)."""
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = C.llama_token_to_piece(self.vocab, token, buf, size, 0, True)
            if n >= 0:
                return bytes(buf.raw[:n])
            size = -n

    def is_eog(self, token: int) -> bool:
        return bool(C.llama_vocab_is_eog(self.vocab, token))

    def close(self) -> None:
        if self._model:
            C.llama_model_free(self._model)
            self._model = None


class NativeContext:
    """A llama.cpp context with ``n_seq`` sequences, each in a KV stream of its own.

    Separate streams (not one unified pool) because llama.cpp's attention sums depend on
    where a sequence's cells lie in the cache: in a shared pool the same request could
    give a different greedy completion depending on what ran before it. In its own
    stream a sequence always starts at cell 0.

    ``batch_invariant`` turns off the CPU kernels whose arithmetic depends on the batch
    shape (flash attention, the tiled matmul; the repacked weights are the model's
    part): a token's logits are then bitwise the same alone, among other sequences, or
    in a prompt read in chunks of any size (docs/architecture.md).
    """

    def __init__(
        self,
        model: NativeModel,
        *,
        seq_cells: int,
        n_batch: int,
        n_seq: int,
        threads: int,
        batch_invariant: bool = False,
        unified_kv: bool = False,
        n_ubatch: int | None = None,
    ) -> None:
        """``unified_kv``: one KV pool for all sequences instead of a stream each (only
        benchmarks/decode_step.py uses it, to compare with llama-server's default).
        ``n_ubatch``: the most tokens llama.cpp computes in one pass (default: all of
        ``n_batch``)."""
        _use_tiled_matmul(not batch_invariant)
        params = C.llama_context_default_params()
        params.n_ctx = seq_cells * n_seq
        params.n_batch = n_batch
        params.n_ubatch = n_ubatch or n_batch
        params.n_seq_max = n_seq
        params.n_threads = threads
        params.n_threads_batch = threads
        params.kv_unified = unified_kv
        params.swa_full = True  # sliding-window models keep full history: prefixes stay reusable
        params.no_perf = True
        if batch_invariant:  # the CPU flash-attention kernel changes path with batch shape
            params.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
        self._ctx = C.llama_init_from_model(model.handle, params)
        if not self._ctx:
            raise RuntimeError("llama.cpp could not create a context (out of memory?)")
        self._memory = C.llama_get_memory(self._ctx)
        self.kv_cells: int = C.llama_n_ctx(self._ctx)
        self.seq_cells: int = C.llama_n_ctx_seq(self._ctx)
        self.n_batch = n_batch
        self.n_ubatch = n_ubatch or n_batch
        self._batch = C.llama_batch_init(n_batch, 0, 1)

    @property
    def handle(self) -> Any:
        return self._ctx

    def decode(self, entries: Sequence[BatchEntry]) -> int:
        """Decode one batch; 0 on success, 1 when the KV cache has no room (llama.cpp)."""
        batch = self._batch
        batch.n_tokens = len(entries)
        for i, (seq, pos, token, logits) in enumerate(entries):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = logits
        status: int = C.llama_decode(self._ctx, batch)
        if status < 0 or status > 1:
            raise RuntimeError(f"llama_decode failed with status {status}")
        return status

    def logits(self, row: int, n_vocab: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        """The logits of the batch's ``row``-th token (a view: valid until the next decode)."""
        ptr = C.llama_get_logits_ith(self._ctx, row)
        return np.ctypeslib.as_array(ptr, shape=(n_vocab,))

    def seq_rm(self, seq: int, start: int = -1, end: int = -1) -> bool:
        return bool(C.llama_memory_seq_rm(self._memory, seq, start, end))

    def copy_prefix(self, src: int, dst: int, length: int) -> None:
        """Give ``dst`` the first ``length`` positions of ``src`` (a copy between streams:
        llama.cpp copies whole streams, then the tail is dropped)."""
        C.llama_memory_seq_rm(self._memory, dst, -1, -1)
        C.llama_memory_seq_cp(self._memory, src, dst, -1, -1)
        C.llama_memory_seq_rm(self._memory, dst, length, -1)

    def close(self) -> None:
        if self._ctx:
            C.llama_batch_free(self._batch)
            C.llama_free(self._ctx)
            self._ctx = None


class Sampler:
    """A request's sampler chain; ``sample`` also records the token for penalties (and
    advances the grammar, if the request has one).

    Plain greedy (no grammar, no penalties) is an argmax over the logits row: llama.cpp's
    chain would first copy the whole vocabulary into a candidate array (262K entries for
    Gemma) for every token (docs/benchmarks.md). Ties go to the lowest token id, as in
    llama.cpp's greedy sampler.
    """

    def __init__(self, params: SamplingParams, model: NativeModel) -> None:
        from llama_cpp._internals import LlamaSampler

        self._n_vocab = model.n_vocab
        penalties = (
            params.repetition_penalty != 1.0
            or params.frequency_penalty != 0.0
            or params.presence_penalty != 0.0
        )
        self._chain: Any = None
        if params.greedy and params.grammar is None and not penalties:
            return
        chain = LlamaSampler()
        if params.grammar is not None:
            # First in the chain, so every later step (greedy included) chooses among
            # the tokens the grammar allows.
            grammar = C.llama_sampler_init_grammar(model.vocab, params.grammar.encode(), b"root")
            if not grammar:
                chain.close()
                raise ValueError("llama.cpp rejected the grammar")
            C.llama_sampler_chain_add(chain.sampler, grammar)
        if penalties:
            chain.add_penalties(
                model.n_vocab,
                64,
                params.repetition_penalty,
                params.frequency_penalty,
                params.presence_penalty,
            )
        if params.greedy:
            chain.add_greedy()
        else:
            if params.top_k > 0:
                chain.add_top_k(params.top_k)
            if params.top_p < 1.0:
                chain.add_top_p(params.top_p, 1)
            if params.min_p > 0.0:
                chain.add_min_p(params.min_p, 1)
            chain.add_temp(params.temperature)
            seed = _RANDOM_SEED if params.seed is None else params.seed & 0xFFFFFFFF
            chain.add_dist(seed)
        self._chain = chain

    def sample(self, ctx: NativeContext, row: int) -> int:
        if self._chain is None:
            return int(np.argmax(ctx.logits(row, self._n_vocab)))
        token: int = C.llama_sampler_sample(self._chain.sampler, ctx.handle, row)
        return token

    def close(self) -> None:
        if self._chain is not None:
            self._chain.close()
            self._chain = None
