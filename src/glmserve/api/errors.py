"""The one place where exceptions become Z.AI error bodies.

``{"error": {"code": "<business code>", "message": "..."}}`` with the HTTP status of
Z.AI's error-code page. Unexpected exceptions are logged here and answered with a
generic 500: never a stack trace on the wire.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from glmserve.errors import ApiNotFound, GlmServeError, InvalidRequest, MethodNotSupported

__all__ = ["install_error_handlers", "error_response"]

log = logging.getLogger(__name__)


def error_response(exc: GlmServeError) -> JSONResponse:
    headers = {}
    if exc.should_retry is not None:
        headers["x-should-retry"] = "true" if exc.should_retry else "false"
    return JSONResponse(
        {"error": {"code": exc.code, "message": exc.message}},
        status_code=exc.status,
        headers=headers,
    )


async def _glmserve_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GlmServeError)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return error_response(ApiNotFound(f"API {request.url.path} does not exist."))
    if exc.status_code == 405:
        return error_response(
            MethodNotSupported(
                f"API {request.url.path} does not support the {request.method} method."
            )
        )
    return error_response(
        GlmServeError(str(exc.detail), code=str(exc.status_code), status=exc.status_code)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    return error_response(InvalidRequest(f"Incorrect API call parameters: {exc}"))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(GlmServeError("Internal Error", code="500", status=500))


def install_error_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError

    app.add_exception_handler(GlmServeError, _glmserve_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
