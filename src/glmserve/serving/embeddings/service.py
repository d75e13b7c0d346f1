"""Embeddings and rerank, independent of HTTP: check the request against the catalog and
the served model's real limits, tokenize, pool on the model's engine.

``EmbeddingService.create(body, metered)`` is what ``POST /embeddings`` runs and what the
job table runs for a ``/v4/embeddings`` batch line (jobs.py): it takes the request body
and returns the embeddings typed (``EmbeddingResult``), which the edges shape. With
``metered`` (the HTTP route) the request is admitted and billed at the catalog price;
without it the caller meters it from the result's prompt tokens and ``price(model)``.
``rerank`` ranks documents by the cosine similarity of their embeddings with the
query's (docs/embeddings.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from glmserve.catalog import EmbeddingSpec, Price, embedding_spec
from glmserve.config import ConfigError, Settings
from glmserve.config.embeddings import EmbeddingModelConfig
from glmserve.engine.registry import (
    DEFAULT_EMBEDDING_WINDOW,
    EmbeddingEngine,
    EmbeddingEngineSpec,
    WeightsError,
    default_embedding_path,
)
from glmserve.engine.types import EmbeddingFailed
from glmserve.errors import EngineFailure, GlmServeError, InvalidField, ModelNotFound
from glmserve.platform.admission import Admitted, Attempt
from glmserve.platform.ids import completion_id
from glmserve.protocol.embeddings import EmbeddingInput, parse_embedding_request
from glmserve.serving.embeddings.work import EmbeddingWork

__all__ = [
    "EmbeddingResult",
    "EmbeddingService",
    "ServedEmbedding",
    "load_embeddings",
    "normalize",
    "rerank_name",
    "RERANK_CODE",
    "tokens_of",
]

log = logging.getLogger(__name__)

RERANK_CODE = "rerank"


@dataclass
class ServedEmbedding:
    config: EmbeddingModelConfig
    engine: EmbeddingEngine
    created: int

    @property
    def code(self) -> str:
        return self.config.code

    @property
    def is_reranker(self) -> bool:
        """A cross-encoder (rank pooling): it scores query/document pairs."""
        return self.engine.info.pooling == "rank"

    @property
    def dimensions(self) -> int:
        return self.engine.info.dimensions

    def window(self, spec: EmbeddingSpec) -> int:
        """Tokens per input: the smallest of the code's documented limit, the config's,
        the model's own and the engine's batch."""
        own = self.engine.info.trained_context
        if self.config.gguf is None:
            own = DEFAULT_EMBEDDING_WINDOW
        limits = [spec.max_input_tokens, own, self.config.batch_size]
        if self.config.max_input_tokens is not None:
            limits.append(self.config.max_input_tokens)
        return min(limits)

    def dimension_choices(self, spec: EmbeddingSpec) -> list[int] | None:
        """The ``dimensions`` values this code accepts here (None: 1 to the full size)."""
        full = self.dimensions
        if not self.config.matryoshka:
            return [full]
        if spec.dimensions is None:
            return None
        return sorted({d for d in spec.dimensions if d <= full} | {full})


@dataclass(frozen=True)
class EmbeddingResult:
    """Embeddings computed: the model asked for, the vectors (normalized, cut to the
    dimensions asked for), the prompt tokens, and the encoding the body wants."""

    model: str
    vectors: list[np.ndarray[Any, Any]]
    prompt_tokens: int
    encoding_format: Literal["float", "base64"]


class EmbeddingService:
    def __init__(self, models: Sequence[ServedEmbedding], rerank: str | None = None) -> None:
        self._models = list(models)
        everything = {code: m for m in self._models for code in m.config.codes}
        self._by_code = {c: m for c, m in everything.items() if not m.is_reranker}
        self._rankers = {c: m for c, m in everything.items() if m.is_reranker}
        # "rerank" is served by the configured model, else the first cross-encoder,
        # else the first embedding model (cosine similarity).
        default = next(iter(self._rankers.values()), None) or next(
            iter(self._by_code.values()), None
        )
        self.rerank_model = everything.get(rerank, default) if rerank else default

    def __iter__(self) -> Iterator[ServedEmbedding]:
        return iter(self._models)

    def price(self, code: str) -> Price:
        """USD per million input tokens of a code (an embedding model's, a reranker's or
        "rerank"): the config's price over the catalog's."""
        served = self._by_code.get(code) or self._rankers.get(code)
        if code == RERANK_CODE:
            served = self.rerank_model
        if served is not None and served.config.price is not None:
            return served.config.price
        return embedding_spec(code).price

    # -- embeddings --

    async def create(
        self, body: Mapping[str, Any], metered: Attempt | None = None
    ) -> EmbeddingResult:
        """The embeddings of ``POST /embeddings`` for a request body, typed (the edges
        give them their wire shape: ``protocol.embeddings.embedding_body``); raises a
        GlmServeError (Z.AI code) for a bad request or an engine failure."""
        request = parse_embedding_request(body)
        if metered is not None:
            metered.describe(request.model, request.request_id)
        if request.model in self._rankers:
            raise InvalidField("model", f"{request.model} is a reranker: use /rerank")
        served = self.embedding_model(request.model)
        spec = embedding_spec(request.model)
        if len(request.inputs) > spec.max_items:
            raise InvalidField(
                "input",
                f"{request.model} takes at most {spec.max_items} inputs per request, "
                f"got {len(request.inputs)}",
            )
        dimensions = self._dimensions(served, spec, request.model, request.dimensions)
        window = served.window(spec)
        ids = await asyncio.to_thread(
            tokens_of, served, request.inputs, window, request.model, served.config.truncate
        )
        work = EmbeddingWork(sum(len(i) for i in ids))
        vectors = await self.run(served, request.model, request.request_id, ids, work, metered)
        normalized = [normalize(np.asarray(v, dtype=np.float64)[:dimensions]) for v in vectors]
        return EmbeddingResult(
            request.model, normalized, work.prompt_tokens, request.encoding_format
        )

    # -- listing and lifecycle --

    def model_entries(self) -> list[dict[str, Any]]:
        """``/models`` entries: every served code with its real limits, and the rerank
        endpoint with what serves it."""
        entries = []
        for served in self._models:
            for code in served.config.codes:
                entries.append(_entry(code, served))
        ranker = self.rerank_model
        if ranker is not None:
            entry = _entry(RERANK_CODE, ranker)
            entry["served_by"] = rerank_name(ranker)
            entries.append(entry)
        return entries

    def close(self) -> None:
        for served in self._models:
            served.engine.close()

    # -- helpers --

    def embedding_model(self, code: str) -> ServedEmbedding:
        """The embedding model serving a code; raises ModelNotFound."""
        served = self._by_code.get(code)
        if served is None:
            raise ModelNotFound(code)
        return served

    def rerank_model_for(self, code: str) -> ServedEmbedding:
        """What ranks for a ``/rerank`` model code: "rerank", a reranker's code or an
        embedding model's (cosine similarity); raises ModelNotFound."""
        if code == RERANK_CODE:
            if self.rerank_model is None:
                raise ModelNotFound(code)
            return self.rerank_model
        return self._rankers.get(code) or self.embedding_model(code)

    def _dimensions(
        self, served: ServedEmbedding, spec: EmbeddingSpec, code: str, asked: int | None
    ) -> int:
        full = served.dimensions
        if asked is None:
            return full
        choices = served.dimension_choices(spec)
        if choices is None and asked <= full:
            return asked
        if choices is not None and asked in choices:
            return asked
        allowed = f"1 to {full}" if choices is None else " or ".join(str(c) for c in choices)
        where = code if code == served.code else f"{code} (served by {served.code})"
        raise InvalidField(
            "dimensions", f"{where} has {full} dimensions; dimensions may be {allowed}"
        )

    async def run(
        self,
        served: ServedEmbedding,
        code: str,
        request_id: str | None,
        ids: list[list[int]],
        work: EmbeddingWork,
        metered: Attempt | None,
        record_id: str | None = None,
    ) -> list[list[float]]:
        """Admit (with ``metered``), pool ``ids`` on the model's engine, end ``work``."""
        if metered is not None:
            record = record_id or completion_id()
            await metered.admit(
                Admitted(
                    record_id=record,
                    model=code,
                    request_id=request_id or record,
                    client_request_id=request_id,
                    stream=False,
                    price=self.price(code),
                )
            )
            metered.track(work)
        try:
            tenant = metered.caller.key_id if metered is not None else ""
            vectors = await served.engine.embed(ids, tenant)
        except EmbeddingFailed as exc:
            work.end(failed=True)
            raise EngineFailure(f"The embedding engine failed: {exc}") from None
        except BaseException:
            work.end(cancelled=True)
            raise
        work.end()
        return vectors


def rerank_name(served: ServedEmbedding) -> str:
    """The model name a rerank response carries: the cross-encoder's code, or the
    embedding model's with ``-cosine`` (the ranking is by cosine similarity)."""
    return served.code if served.is_reranker else f"{served.code}-cosine"


def _entry(code: str, served: ServedEmbedding) -> dict[str, Any]:
    spec = embedding_spec(code)
    entry: dict[str, Any] = {
        "id": code,
        "object": "model",
        "created": served.created,
        "owned_by": "glmserve",
        "type": "rerank" if served.is_reranker or code == RERANK_CODE else "embedding",
        "served_by": served.code,
        "max_input_tokens": served.window(spec),
        "pooling": served.engine.info.pooling,
    }
    if code == RERANK_CODE or served.is_reranker:
        entry["max_documents"] = embedding_spec(RERANK_CODE).max_documents
    else:
        entry["dimensions"] = served.dimensions
        entry["dimension_choices"] = served.dimension_choices(spec)
        entry["max_inputs"] = spec.max_items
    return entry


def tokens_of(
    served: ServedEmbedding,
    inputs: Sequence[EmbeddingInput],
    window: int,
    code: str,
    truncate: bool,
) -> list[list[int]]:
    """Token IDs of each input, checked against the vocabulary and the window."""
    vocab = served.engine.info.vocab_size
    out: list[list[int]] = []
    for index, item in enumerate(inputs):
        if isinstance(item, str):
            ids = served.engine.tokenize(item)
            if len(ids) > window and truncate:
                ids = ids[: window - 1] + ids[-1:]  # keep the end token ([SEP])
        else:
            bad = next((t for t in item if not 0 <= t < vocab), None)
            if bad is not None:
                raise InvalidField(
                    f"input[{index}]", f"token {bad} is outside the vocabulary (0 to {vocab - 1})"
                )
            ids = list(item[:window]) if truncate else list(item)
        if len(ids) > window:
            raise GlmServeError(
                f"Input {index} has {len(ids)} tokens; {code} takes at most {window} tokens "
                "per input.",
                code="1261",
                status=400,
            )
        out.append(ids)
    return out


def normalize(vector: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def load_embeddings(settings: Settings, *, progress: bool = True) -> EmbeddingService:
    """Start every configured embedding model; raise ConfigError if one cannot be served."""
    loaded: list[ServedEmbedding] = []
    try:
        for config in settings.embeddings.models:
            loaded.append(_load(config, settings, progress))
    except BaseException:
        for served in loaded:
            served.engine.close()
        raise
    return EmbeddingService(loaded, settings.embeddings.rerank)


def _load(config: EmbeddingModelConfig, settings: Settings, progress: bool) -> ServedEmbedding:
    try:
        path = config.gguf or default_embedding_path(settings.cache_dir, progress=progress)
    except WeightsError as exc:
        raise ConfigError(f"embedding model {config.code}: {exc}") from None
    log.info("loading embedding model %s from %s", config.code, path)
    spec = EmbeddingEngineSpec(gguf=path, threads=config.threads, batch_size=config.batch_size)
    try:
        engine = EmbeddingEngine(spec)
    except (ValueError, RuntimeError, OSError) as exc:
        raise ConfigError(f"embedding model {config.code}: cannot load {path}: {exc}") from None
    return ServedEmbedding(config=config, engine=engine, created=int(time.time()))
