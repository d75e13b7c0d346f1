"""Routes of image and video generation (docs/images.md): ``POST /images/generations``
(Z.AI and the OpenAI-compatible ``/v1``), ``POST /async/images/generations``, ``POST
/videos/generations``, and ``GET /media/{file_id}``, where the results are read.

HTTP only: read the body within the limits, hand it to the serving layer, answer."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from glmserve.api.body import json_body
from glmserve.api.deps import glmserve, images_attempt, principal
from glmserve.api.openapi import COMPLETION_ERRORS, documented
from glmserve.app import GlmServe
from glmserve.platform.admission import Attempt
from glmserve.platform.auth import Principal, read_credential
from glmserve.protocol.embeddings import json_object
from glmserve.protocol.images import ImagesBody, VideosBody

__all__ = ["router", "media_router"]

router = APIRouter()
"""Generation routes, under the Z.AI and the OpenAI-compatible prefixes."""
media_router = APIRouter()
"""Task submission and result files, under the Z.AI prefix."""


def _base(request: Request) -> str:
    """The server's address as the client reached it: result URLs start with it."""
    return str(request.base_url).rstrip("/")


@router.post("/images/generations", **documented(ImagesBody, errors=COMPLETION_ERRORS))
async def images_generations(
    request: Request,
    metered: Attempt = Depends(images_attempt),
    raw: Any = Depends(json_body),
    app: GlmServe = Depends(glmserve),
) -> dict[str, Any]:
    return await app.images.images(json_object(raw), metered, _base(request))


@media_router.post("/async/images/generations", **documented(ImagesBody, errors=(429,)))
async def async_images_generations(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
    raw: Any = Depends(json_body),
) -> dict[str, Any]:
    row = await app.images.image_task(caller.key_id, json_object(raw), _base(request))
    return await app.platform.tasks.submit(caller, row)


@media_router.post("/videos/generations", **documented(VideosBody, errors=(429,)))
async def videos_generations(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
    raw: Any = Depends(json_body),
) -> dict[str, Any]:
    row = await app.images.video_task(caller.key_id, json_object(raw), _base(request))
    return await app.platform.tasks.submit(caller, row)


_MEDIA = documented(auth="optional", errors=(404,))
_MEDIA["responses"][200]["content"] = {
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "video/mp4": {"schema": {"type": "string", "format": "binary"}},
}


@media_router.get("/media/{file_id}", **_MEDIA)
async def media(
    file_id: str,
    request: Request,
    expires: str | None = None,
    signature: str | None = None,
    app: GlmServe = Depends(glmserve),
) -> Response:
    """A generated image or video: with the URL's signature, or for the key that made it."""
    key_id: str | None = None
    credential = read_credential(request.headers)
    if credential.kind != "none":
        caller = await asyncio.to_thread(app.auth.authenticate, credential)
        key_id = caller.key_id
    data, media_type = await app.images.results.read(file_id, expires, signature, key_id)
    return Response(data, media_type=media_type, headers={"cache-control": "private"})
