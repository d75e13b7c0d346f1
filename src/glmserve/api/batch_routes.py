"""Routes of files and batches (``/files``, ``/batches``): HTTP only, the platform's
Files and Batches do the work (platform/files.py, platform/batches.py)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from glmserve.api.deps import glmserve, principal
from glmserve.app import GlmServe
from glmserve.errors import FileTooLarge, InvalidField, InvalidRequest, MissingField
from glmserve.platform.auth import Principal

__all__ = ["router"]

router = APIRouter()

# Multipart framing around the file: headers, boundary, the purpose field.
_FORM_SLACK = 64 * 1024


@router.post("/files")
async def upload_file(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    limit = app.platform.files.settings.max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _FORM_SLACK:
        raise FileTooLarge(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise InvalidRequest("POST /files takes multipart/form-data with 'file' and 'purpose'.")
    async with request.form(max_files=1, max_fields=16) as form:
        upload = form.get("file")
        purpose = form.get("purpose")
        if not isinstance(upload, UploadFile):
            raise MissingField("file")
        data = await upload.read(limit + 1)
        filename = upload.filename or "upload.jsonl"
    return await app.platform.files.upload(
        caller, filename, purpose if isinstance(purpose, str) else None, data
    )


@router.get("/files")
async def list_files(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    query = request.query_params
    return await app.platform.files.listing(
        caller,
        query.get("purpose"),
        _limit(query.get("limit")),
        query.get("after") or None,
        query.get("order"),
    )


@router.get("/files/{file_id}")
async def retrieve_file(
    file_id: str, app: GlmServe = Depends(glmserve), caller: Principal = Depends(principal)
) -> dict[str, Any]:
    return await app.platform.files.retrieve(caller, file_id)


@router.delete("/files/{file_id}")
async def delete_file(
    file_id: str, app: GlmServe = Depends(glmserve), caller: Principal = Depends(principal)
) -> dict[str, Any]:
    return await app.platform.files.delete(caller, file_id)


@router.get("/files/{file_id}/content")
async def file_content(
    file_id: str, app: GlmServe = Depends(glmserve), caller: Principal = Depends(principal)
) -> Response:
    row, data = await app.platform.files.content(caller, file_id)
    disposition = f'attachment; filename="{row.filename.replace(chr(34), "")}"'
    return Response(
        data, media_type="application/octet-stream", headers={"content-disposition": disposition}
    )


@router.post("/batches")
async def create_batch(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    try:
        payload = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    return await app.platform.batches.create(caller, payload)


@router.get("/batches")
async def list_batches(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    query = request.query_params
    return await app.platform.batches.listing(
        caller, query.get("after") or None, _limit(query.get("limit"))
    )


@router.get("/batches/{batch_id}")
async def retrieve_batch(
    batch_id: str, app: GlmServe = Depends(glmserve), caller: Principal = Depends(principal)
) -> dict[str, Any]:
    return await app.platform.batches.retrieve(caller, batch_id)


@router.post("/batches/{batch_id}/cancel")
async def cancel_batch(
    batch_id: str, app: GlmServe = Depends(glmserve), caller: Principal = Depends(principal)
) -> dict[str, Any]:
    return await app.platform.batches.cancel(caller, batch_id)


def _limit(text: str | None) -> int | None:
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidField("limit", "must be a whole number between 1 and 100.") from None
