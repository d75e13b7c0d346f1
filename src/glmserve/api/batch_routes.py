"""Routes of files and batches (``/files``, ``/batches``): HTTP only, the platform's
Files and Batches do the work (platform/files.py, platform/batches.py)."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from starlette.datastructures import UploadFile
from starlette.types import Message, Receive

from glmserve.api.body import json_body
from glmserve.api.deps import admitted, glmserve, principal
from glmserve.api.openapi import documented
from glmserve.app import GlmServe
from glmserve.errors import BodyTimeout, FileTooLarge, InvalidField, InvalidRequest, MissingField
from glmserve.platform.auth import Principal
from glmserve.platform.batch_input import BatchCreateBody

__all__ = ["router"]

# Every route of files and batches is admitted (api/deps.py): counted, and holding a slot.
router = APIRouter(dependencies=[Depends(admitted)])

# Multipart framing around the file: headers, boundary, the purpose field.
_FORM_SLACK = 64 * 1024


_UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["file", "purpose"],
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "purpose": {"type": "string", "enum": ["batch", "agent", "file-extract"]},
                },
            }
        }
    },
}
_UPLOAD = documented(errors=(400, 408, 413, 435))
_UPLOAD["openapi_extra"]["requestBody"] = _UPLOAD_BODY


_CONTENT = documented(errors=(404,))
_CONTENT["responses"][200]["content"] = {
    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
}


@router.post("/files", **_UPLOAD)
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
    # The form is spooled to disk past 1 MB (Starlette), cut off with 413 as soon as more
    # than the limit has arrived (a chunked body declares no length), and a body that
    # stalls is cut off like any other (docs/api.md "Request limits").
    seconds = app.settings.http.body_timeout_seconds
    capped = Request(request.scope, _capped(request.receive, limit + _FORM_SLACK, limit))
    try:
        async with asyncio.timeout(seconds):
            async with capped.form(max_files=1, max_fields=16) as form:
                upload = form.get("file")
                purpose = form.get("purpose")
                if not isinstance(upload, UploadFile):
                    raise MissingField("file")
                data = await upload.read(limit + 1)
                filename = upload.filename or "upload.jsonl"
    except TimeoutError:
        raise BodyTimeout(seconds) from None
    return await app.platform.files.upload(
        caller, filename, purpose if isinstance(purpose, str) else None, data
    )


def _capped(receive: Receive, cap: int, limit: int) -> Receive:
    """``receive`` that raises ``FileTooLarge`` once the body is over ``cap`` bytes."""
    seen = 0

    async def capped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise FileTooLarge(limit)
        return message

    return capped


@router.get("/files", **documented(errors=(400,)))
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


@router.get("/files/{file_id}", **documented(errors=(404,)))
async def retrieve_file(
    file_id: str, app: GlmServe = Depends(glmserve), caller: Principal = Depends(principal)
) -> dict[str, Any]:
    return await app.platform.files.retrieve(caller, file_id)


@router.delete("/files/{file_id}", **documented(errors=(404,)))
async def delete_file(
    file_id: str, app: GlmServe = Depends(glmserve), caller: Principal = Depends(principal)
) -> dict[str, Any]:
    return await app.platform.files.delete(caller, file_id)


@router.get("/files/{file_id}/content", **_CONTENT)
async def file_content(
    file_id: str, app: GlmServe = Depends(glmserve), caller: Principal = Depends(principal)
) -> StreamingResponse:
    row, reader = await app.platform.files.content(caller, file_id)
    headers = {"content-disposition": content_disposition(row.filename)}
    if reader.size:
        headers["content-length"] = str(reader.size)
    return StreamingResponse(
        app.platform.files.stream(reader), media_type="application/octet-stream", headers=headers
    )


def content_disposition(filename: str) -> str:
    """``attachment`` with the name as plain ASCII (for old clients) and, when it is not
    ASCII, as RFC 5987 ``filename*`` (UTF-8, percent-encoded): ``请求.jsonl`` downloads."""
    plain = "".join(c if " " <= c < "\x7f" and c not in '"\\' else "_" for c in filename)
    disposition = f'attachment; filename="{plain}"'
    if plain != filename:
        disposition += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return disposition


@router.post("/batches", **documented(BatchCreateBody, errors=(404, 429)))
async def create_batch(
    caller: Principal = Depends(principal),
    raw: Any = Depends(json_body),
    app: GlmServe = Depends(glmserve),
) -> dict[str, Any]:
    return await app.platform.batches.create(caller, raw)


@router.get("/batches", **documented(errors=(400,)))
async def list_batches(
    request: Request,
    app: GlmServe = Depends(glmserve),
    caller: Principal = Depends(principal),
) -> dict[str, Any]:
    query = request.query_params
    return await app.platform.batches.listing(
        caller, query.get("after") or None, _limit(query.get("limit"))
    )


@router.get("/batches/{batch_id}", **documented(errors=(404,)))
async def retrieve_batch(
    batch_id: str, app: GlmServe = Depends(glmserve), caller: Principal = Depends(principal)
) -> dict[str, Any]:
    return await app.platform.batches.retrieve(caller, batch_id)


@router.post("/batches/{batch_id}/cancel", **documented(errors=(400, 404)))
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
