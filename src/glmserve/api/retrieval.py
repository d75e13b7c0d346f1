"""Routes of the retrieval APIs: ``POST /embeddings`` and ``POST /rerank`` (Z.AI paths
under ``/api/paas/v4`` and the OpenAI-compatible ``/v1``).

HTTP only: read the body, hand it to the serving layer, return its answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from glmserve.api.deps import attempt, glmserve
from glmserve.app import GlmServe
from glmserve.platform.admission import Attempt
from glmserve.protocol.embeddings import read_json_object
from glmserve.serving.rerank import rerank as rerank_documents

__all__ = ["router"]

router = APIRouter()


@router.post("/embeddings")
async def embeddings(
    request: Request,
    app: GlmServe = Depends(glmserve),
    metered: Attempt = Depends(attempt),
) -> dict[str, Any]:
    return await app.embeddings.create(read_json_object(await request.body()), metered)


@router.post("/rerank")
async def rerank(
    request: Request,
    app: GlmServe = Depends(glmserve),
    metered: Attempt = Depends(attempt),
) -> dict[str, Any]:
    return await rerank_documents(app.embeddings, read_json_object(await request.body()), metered)
