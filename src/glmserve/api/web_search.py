"""Routes of web search and the web reader: ``POST /web_search`` and ``POST /reader``
(Z.AI paths under ``/api/paas/v4`` and the Coding endpoint's; docs/search.md).

HTTP only: read the body within the limits, hand it to the serving layer, return its
answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from glmserve.api.body import json_body
from glmserve.api.deps import glmserve, tools_attempt
from glmserve.api.openapi import COMPLETION_ERRORS, documented
from glmserve.app import GlmServe
from glmserve.platform.admission import Attempt
from glmserve.protocol.embeddings import json_object
from glmserve.protocol.web_search import ReaderBody, WebSearchBody

__all__ = ["router"]

router = APIRouter()


@router.post("/web_search", **documented(WebSearchBody, errors=COMPLETION_ERRORS))
async def web_search(
    metered: Attempt = Depends(tools_attempt),
    raw: Any = Depends(json_body),
    app: GlmServe = Depends(glmserve),
) -> dict[str, Any]:
    return await app.web_search.search(json_object(raw), metered)


@router.post("/reader", **documented(ReaderBody, errors=COMPLETION_ERRORS))
async def reader(
    metered: Attempt = Depends(tools_attempt),
    raw: Any = Depends(json_body),
    app: GlmServe = Depends(glmserve),
) -> dict[str, Any]:
    return await app.web_search.read(json_object(raw), metered)
