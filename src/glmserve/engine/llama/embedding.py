"""An embedding (or reranking) model on llama.cpp: tokenize, and pool many inputs in few
decodes.

Encoder models (BERT and its kin) see a whole input at once, so each input is one
sequence of one batch; several inputs share a decode as different sequences, up to the
batch size in tokens. The pooling is the model's own (GGUF metadata
``<arch>.pooling_type``): mean, CLS or last token for embedding models, rank for
cross-encoder rerankers, whose pooled output is one relevance score per sequence.
Vectors come back as the model pooled them, not normalized: the serving layer truncates
(Matryoshka) and then normalizes.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp as C

__all__ = [
    "EmbeddingInfo",
    "EmbeddingModel",
    "POOLING_NAMES",
    "info_from_metadata",
    "load_vocab",
    "pair",
    "tokenize",
]

POOLING_NAMES = {
    C.LLAMA_POOLING_TYPE_NONE: "none",
    C.LLAMA_POOLING_TYPE_MEAN: "mean",
    C.LLAMA_POOLING_TYPE_CLS: "cls",
    C.LLAMA_POOLING_TYPE_LAST: "last",
    C.LLAMA_POOLING_TYPE_RANK: "rank",
}


@dataclass(frozen=True)
class EmbeddingInfo:
    """What the serving layer needs to know of a loaded embedding model."""

    dimensions: int
    """Length of a pooled vector (1 for a reranker: its score)."""
    vocab_size: int
    trained_context: int
    pooling: str
    """"mean", "cls", "last" or "rank" (a cross-encoder reranker)."""
    description: str


def load_vocab(gguf: Path) -> Any:
    """A vocabulary-only load of the GGUF, for tokenizing beside the engine process."""
    return C.Llama(str(gguf), vocab_only=True, verbose=False)


def info_from_metadata(vocab: Any) -> EmbeddingInfo:
    """What a model is, from the GGUF metadata of its vocabulary-only load (where llama.cpp
    leaves the hyperparameters unread), so that the weights load only on first use; the
    same values ``EmbeddingModel`` reads from the loaded model. Raises ValueError for a
    model without pooling (not an embedding model)."""
    meta: dict[str, str] = vocab.metadata
    arch = meta.get("general.architecture", "")
    pooling = _int(meta.get(f"{arch}.pooling_type"))
    if pooling not in POOLING_NAMES or pooling == C.LLAMA_POOLING_TYPE_NONE:
        raise ValueError("no pooling type in its metadata (not an embedding model)")
    rank = pooling == C.LLAMA_POOLING_TYPE_RANK
    return EmbeddingInfo(
        # a cross-encoder scores with one output unless the GGUF names its labels
        dimensions=1 if rank else _int(meta.get(f"{arch}.embedding_length")),
        vocab_size=int(vocab.n_vocab()),
        trained_context=_int(meta.get(f"{arch}.context_length")),
        pooling=POOLING_NAMES[pooling],
        description=f"{meta.get('general.name', '?')} ({arch})",
    )


def _int(value: str | None) -> int:
    return int(value) if value is not None and value.strip().isdigit() else 0


def tokenize(vocab: Any, text: str, *, special: bool = True) -> list[int]:
    """Token IDs of ``text``, with the model's own start and end tokens when ``special``."""
    ids: list[int] = vocab.tokenize(text.encode("utf-8"), add_bos=special, special=False)
    return ids


def pair(vocab: Any, query: str, document: str, window: int) -> list[int]:
    """A cross-encoder's input for a query and a document, at most ``window`` tokens
    (the document is cut; raises ValueError if the query leaves it no room).

    WordPiece (BERT) models get BERT's pair layout, ``[CLS] query [SEP] document
    [SEP]``; others llama.cpp's rerank layout, ``BOS query EOS SEP document EOS``
    (XLM-RoBERTa's ``<s> query </s></s> document </s>`` for bge-reranker)."""
    handle = vocab._model.vocab
    if C.llama_vocab_type(handle) == C.LLAMA_VOCAB_TYPE_WPM:
        head = tokenize(vocab, query)
        body = tokenize(vocab, document)[1:]
    else:
        marks = [C.llama_vocab_bos(handle), C.llama_vocab_eos(handle), C.llama_vocab_sep(handle)]
        bos, eos, sep = (int(t) for t in marks)
        head = [t for t in (bos,) if t >= 0] + tokenize(vocab, query, special=False)
        head += [t for t in (eos, sep) if t >= 0]
        body = tokenize(vocab, document, special=False) + [t for t in (eos,) if t >= 0]
    room = window - len(head)
    if room < 2:
        raise ValueError(f"the query has {len(head)} tokens; the model takes {window} in all")
    if len(body) > room:
        body = body[: room - 1] + body[-1:]  # keep the end token
    return head + body


class EmbeddingModel:
    """The weights and a context with embeddings on; used by one thread."""

    def __init__(self, gguf: Path, *, threads: int, batch_size: int) -> None:
        self._llm: Any = C.Llama(
            str(gguf),
            embedding=True,
            n_ctx=batch_size,
            n_batch=batch_size,
            n_ubatch=batch_size,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        self.batch_size = batch_size
        pooling = int(self._llm.pooling_type())
        if pooling not in POOLING_NAMES or pooling == C.LLAMA_POOLING_TYPE_NONE:
            self.close()
            raise ValueError(f"{gguf.name}: no pooling type (not an embedding model)")
        model = self._llm.model
        rank = pooling == C.LLAMA_POOLING_TYPE_RANK
        self.info = EmbeddingInfo(
            dimensions=int(C.llama_model_n_cls_out(model)) if rank else int(self._llm.n_embd()),
            vocab_size=int(self._llm.n_vocab()),
            trained_context=int(C.llama_model_n_ctx_train(model)),
            pooling=POOLING_NAMES[pooling],
            description=_description(model),
        )
        self._seq_max = int(self._llm.context_params.n_seq_max)

    def embed(self, items: Sequence[Sequence[int]]) -> list[list[float]]:
        """One pooled vector per token list, in order. Each list must fit the batch."""
        out: list[list[float]] = []
        group: list[Sequence[int]] = []
        tokens = 0
        for ids in items:
            if not ids or len(ids) > self.batch_size:
                raise ValueError(f"an input of {len(ids)} tokens does not fit one batch")
            if tokens + len(ids) > self.batch_size or len(group) >= self._seq_max:
                out.extend(self._decode(group))
                group, tokens = [], 0
            group.append(ids)
            tokens += len(ids)
        if group:
            out.extend(self._decode(group))
        return out

    def _decode(self, group: list[Sequence[int]]) -> list[list[float]]:
        llm = self._llm
        batch = llm._batch
        batch.reset()
        for seq, ids in enumerate(group):
            batch.add_sequence(list(ids), seq, True)
        llm._ctx.kv_cache_clear()
        llm._ctx.decode(batch)
        width = self.info.dimensions
        vectors = []
        for seq in range(len(group)):
            pointer = C.llama_get_embeddings_seq(llm._ctx.ctx, seq)
            if not pointer:
                raise RuntimeError("llama.cpp returned no pooled embedding")
            vectors.append([float(x) for x in pointer[:width]])
        batch.reset()
        return vectors

    def close(self) -> None:
        llm = getattr(self, "_llm", None)
        if llm is not None:
            llm.close()
            self._llm = None


def _description(model: Any) -> str:
    buffer = ctypes.create_string_buffer(256)
    C.llama_model_desc(model, buffer, 256)
    return bytes(buffer.value).decode("utf-8", errors="replace")
