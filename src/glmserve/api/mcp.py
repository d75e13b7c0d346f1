"""glmserve's MCP servers over HTTP: ``/api/mcp/<name>/mcp`` (Z.AI's paths), each the
official SDK's streamable-HTTP app, behind the API key (docs/search.md, "MCP servers").

HTTP only: authenticate the caller as every other route does (Bearer key, 401 with a
Z.AI error body otherwise), then hand the exchange to the SDK.
"""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from glmserve.app import GlmServe
from glmserve.errors import GlmServeError
from glmserve.platform.auth import read_credential
from glmserve.protocol.responses import error_body
from glmserve.serving.web_search.mcp_servers import CALLER

__all__ = ["PREFIX", "mount_mcp"]

PREFIX = "/api/mcp"


class _Authenticated:
    def __init__(self, inner: ASGIApp, app: GlmServe) -> None:
        self._inner = inner
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        credential = read_credential(Headers(scope=scope))
        try:
            caller = await asyncio.to_thread(self._app.auth.authenticate, credential)
        except GlmServeError as exc:
            response = JSONResponse(error_body(exc), status_code=exc.status)
            await response(scope, receive, send)
            return
        token = CALLER.set(caller)
        try:
            await self._inner(scope, receive, send)
        finally:
            CALLER.reset(token)


def mount_mcp(api: FastAPI, app: GlmServe) -> None:
    for name, inner in app.mcp.apps.items():
        api.mount(f"{PREFIX}/{name}", _Authenticated(inner, app))
