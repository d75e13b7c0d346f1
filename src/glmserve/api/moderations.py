"""Route of the moderation API: ``POST /moderations`` (Z.AI path under ``/api/paas/v4``;
zai-sdk ``client.moderations.create``).

HTTP only: read the body, hand it to the safety room, return its answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from glmserve.api.body import json_body
from glmserve.api.deps import glmserve, moderations_attempt
from glmserve.api.openapi import COMPLETION_ERRORS, documented
from glmserve.app import GlmServe
from glmserve.platform.admission import Attempt
from glmserve.protocol.moderations import ModerationsBody

__all__ = ["router"]

router = APIRouter()


@router.post("/moderations", **documented(ModerationsBody, errors=(*COMPLETION_ERRORS, 404)))
async def moderations(
    metered: Attempt = Depends(moderations_attempt),
    raw: Any = Depends(json_body),
    app: GlmServe = Depends(glmserve),
) -> dict[str, Any]:
    return await app.safety.moderate(raw, metered)
