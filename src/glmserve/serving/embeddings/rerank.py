"""``POST /rerank``, independent of HTTP: documents ranked against a query.

Two ways to score (docs/embeddings.md "POST /rerank"): a cross-encoder reranker GGUF
(llama.cpp's rank pooling) reads each query/document pair and gives a logit, reported
as ``raw_score`` and, through the logistic function, as ``relevance_score``; an
embedding model gives the cosine similarity of the document's embedding with the
query's, which is both scores, and the response's ``model`` says ``-cosine``.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from glmserve.catalog import embedding_spec
from glmserve.errors import GlmServeError, InvalidField
from glmserve.platform.admission import Attempt
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.protocol.embeddings import EmbeddingInput, RerankRequest, parse_rerank_request
from glmserve.serving.embeddings.service import (
    RERANK_CODE,
    EmbeddingService,
    ServedEmbedding,
    normalize,
    rerank_name,
    tokens_of,
)
from glmserve.serving.embeddings.work import EmbeddingWork

__all__ = ["RankedDocument", "RerankResult", "rerank"]


@dataclass(frozen=True)
class RankedDocument:
    index: int
    relevance_score: float
    raw_score: float | None = None
    """Only when the request asked for it (``return_raw_scores``)."""
    document: str | None = None
    """Only when the request asked for it (``return_documents``)."""


@dataclass(frozen=True)
class RerankResult:
    """A ranking, typed: the edges give it its wire shape (``protocol.embeddings.rerank_body``)."""

    id: str
    created: int
    request_id: str
    model: str
    ranked: list[RankedDocument]
    prompt_tokens: int


async def rerank(
    service: EmbeddingService, body: Mapping[str, Any], metered: Attempt | None = None
) -> RerankResult:
    """The ranking ``POST /rerank`` answers for a request body; raises a GlmServeError."""
    request = parse_rerank_request(body)
    if metered is not None:
        metered.describe(request.model, request.request_id)
    served = service.rerank_model_for(request.model)
    limit = embedding_spec(RERANK_CODE).max_documents
    if len(request.documents) > limit:
        raise InvalidField(
            "documents", f"at most {limit} documents per request, got {len(request.documents)}"
        )
    window = served.window(embedding_spec(served.code))
    if served.is_reranker:
        ids = await asyncio.to_thread(_pairs, served, request, window)
    else:
        # A document longer than the window is ranked by its beginning, as
        # cross-encoders cut theirs.
        texts: list[EmbeddingInput] = [request.query, *request.documents]
        ids = await asyncio.to_thread(tokens_of, served, texts, window, request.model, True)
    work = EmbeddingWork(sum(len(i) for i in ids))
    record_id = completion_id()
    vectors = await service.run(
        served, request.model, request.request_id, ids, work, metered, record_id=record_id
    )
    raw, relevance = _scores(served, vectors)
    order = sorted(range(len(raw)), key=lambda i: (-raw[i], i))
    if request.top_n is not None:
        order = order[: request.top_n]
    ranked = [
        RankedDocument(
            index=index,
            relevance_score=relevance[index],
            raw_score=raw[index] if request.return_raw_scores else None,
            document=request.documents[index] if request.return_documents else None,
        )
        for index in order
    ]
    return RerankResult(
        id=record_id,
        created=now_seconds(),
        request_id=request.request_id or record_id,
        model=rerank_name(served),
        ranked=ranked,
        prompt_tokens=work.prompt_tokens,
    )


def _pairs(served: ServedEmbedding, request: RerankRequest, window: int) -> list[list[int]]:
    try:
        return [served.engine.pair(request.query, doc, window) for doc in request.documents]
    except ValueError as exc:
        raise GlmServeError(f"The query is too long: {exc}.", code="1261", status=400) from None


def _scores(served: ServedEmbedding, vectors: list[list[float]]) -> tuple[list[float], list[float]]:
    """(raw scores, relevance scores), one per document."""
    if served.is_reranker:
        logits = [float(v[0]) for v in vectors]
        return logits, [_sigmoid(x) for x in logits]
    query, *docs = [normalize(np.asarray(v, dtype=np.float64)) for v in vectors]
    cosines = [float(np.dot(query, d)) for d in docs]
    return cosines, cosines


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
