"""Routes of the retrieval APIs: ``POST /embeddings`` and ``POST /rerank`` (Z.AI paths
under ``/api/paas/v4`` and the OpenAI-compatible ``/v1``).

HTTP only: read the body within the limits, hand it to the serving layer, return its
answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from glmserve.api.body import json_body
from glmserve.api.deps import embeddings_attempt, glmserve
from glmserve.api.openapi import COMPLETION_ERRORS, documented
from glmserve.app import GlmServe
from glmserve.platform.admission import Attempt
from glmserve.protocol.embeddings import (
    EmbeddingsBody,
    RerankBody,
    embedding_body,
    json_object,
    rerank_body,
)
from glmserve.serving.embeddings.rerank import rerank as rerank_documents

__all__ = ["router"]

router = APIRouter()


@router.post("/embeddings", **documented(EmbeddingsBody, errors=COMPLETION_ERRORS))
async def embeddings(
    metered: Attempt = Depends(embeddings_attempt),
    raw: Any = Depends(json_body),
    app: GlmServe = Depends(glmserve),
) -> dict[str, Any]:
    done = await app.embeddings.create(json_object(raw), metered)
    return embedding_body(done.model, done.vectors, done.prompt_tokens, done.encoding_format)


@router.post("/rerank", **documented(RerankBody, errors=COMPLETION_ERRORS))
async def rerank(
    metered: Attempt = Depends(embeddings_attempt),
    raw: Any = Depends(json_body),
    app: GlmServe = Depends(glmserve),
) -> dict[str, Any]:
    done = await rerank_documents(app.embeddings, json_object(raw), metered)
    return rerank_body(
        id=done.id,
        created=done.created,
        request_id=done.request_id,
        model=done.model,
        ranked=done.ranked,
        prompt_tokens=done.prompt_tokens,
    )
