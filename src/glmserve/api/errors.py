"""The one place where exceptions become error bodies, in each surface's shape.

Z.AI (and the OpenAI-compatible paths): ``{"error": {"code": "<business code>",
"message": "..."}}`` with the HTTP status of Z.AI's error-code page. The Anthropic
surface (``/api/anthropic``): ``{"type": "error", "error": {"type": "<error type>",
"message": "..."}}``, the type following the status as Anthropic's API does; an
unknown model there is 404 ``not_found_error``. Unexpected exceptions are logged here
and answered with a generic 500: never a stack trace on the wire.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from glmserve.api.anthropic import PREFIX as ANTHROPIC_PREFIX
from glmserve.errors import (
    ApiNotFound,
    BodyTimeout,
    BodyTooLarge,
    GlmServeError,
    InvalidRequest,
    MethodNotSupported,
)
from glmserve.protocol import anthropic_responses as anthropic
from glmserve.protocol.responses import error_body

__all__ = ["install_error_handlers", "error_response"]

log = logging.getLogger(__name__)


def error_response(exc: GlmServeError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    extra = dict(headers or {})
    if exc.should_retry is not None:
        extra["x-should-retry"] = "true" if exc.should_retry else "false"
    return JSONResponse(error_body(exc), status_code=exc.status, headers=extra)


def _respond(
    request: Request, exc: GlmServeError, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The error in the shape of the surface the request came to."""
    extra = dict(headers or {})
    if isinstance(exc, BodyTooLarge | BodyTimeout):
        # The rest of the body is not read: the connection cannot carry another request.
        extra["connection"] = "close"
    path = request.url.path
    if path == ANTHROPIC_PREFIX or path.startswith(ANTHROPIC_PREFIX + "/"):
        return JSONResponse(
            anthropic.error_body(exc), status_code=anthropic.error_status(exc), headers=extra
        )
    return error_response(exc, extra)


async def _glmserve_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, GlmServeError)
    return _respond(request, exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 404:
        return _respond(request, ApiNotFound(f"API {request.url.path} does not exist."))
    if exc.status_code == 405:
        return _respond(
            request,
            MethodNotSupported(
                f"API {request.url.path} does not support the {request.method} method."
            ),
            exc.headers,  # Allow: the methods it does support
        )
    return _respond(
        request, GlmServeError(str(exc.detail), code=str(exc.status_code), status=exc.status_code)
    )


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    return _respond(request, InvalidRequest(f"Incorrect API call parameters: {exc}"))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return _respond(request, GlmServeError("Internal Error", code="500", status=500))


def install_error_handlers(app: FastAPI) -> None:
    from fastapi.exceptions import RequestValidationError

    app.add_exception_handler(GlmServeError, _glmserve_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
