"""glmserve's MCP servers over HTTP: ``/api/mcp/<name>/mcp`` and ``/api/mcp/<name>/sse``
(Z.AI's paths), the official SDK's streamable-HTTP and SSE apps, behind the API key
(docs/search.md, "MCP servers").

HTTP only: authenticate the caller as every other route does (Bearer key, 401 with a
Z.AI error body otherwise), then hand the exchange to the SDK.
"""

from __future__ import annotations

import asyncio
import re

from fastapi import FastAPI
from starlette.datastructures import Headers, QueryParams
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glmserve.app import GlmServe
from glmserve.errors import CredentialMissing, GlmServeError
from glmserve.platform.auth import Principal, read_credential
from glmserve.protocol.responses import error_body
from glmserve.serving.web_search.mcp_servers import CALLER

__all__ = ["PREFIX", "mount_mcp"]

PREFIX = "/api/mcp"


class _Authenticated:
    def __init__(self, inner: ASGIApp, app: GlmServe) -> None:
        self._inner = inner
        self._app = app
        self._sessions: dict[str, Principal] = {}
        """Open SSE sessions and their callers."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._inner(scope, receive, send)
            return
        if scope["path"].endswith("/messages/") and scope["method"] == "POST":
            # An SSE session's messages: its id (unguessable, given to the caller that
            # opened the stream with its key) stands for that caller.
            query = QueryParams(scope.get("query_string", b"").decode("latin-1"))
            owner = self._sessions.get(query.get("session_id", ""))
            if owner is None:
                response = JSONResponse(error_body(CredentialMissing()), status_code=401)
                await response(scope, receive, send)
                return
            token = CALLER.set(owner)
            try:
                await self._inner(scope, receive, send)
            finally:
                CALLER.reset(token)
            return
        credential = read_credential(_with_query_key(scope))
        try:
            caller = await asyncio.to_thread(self._app.auth.authenticate, credential)
        except GlmServeError as exc:
            response = JSONResponse(error_body(exc), status_code=exc.status)
            await response(scope, receive, send)
            return
        token = CALLER.set(caller)
        opened: list[str] = []

        async def watch(message: Message) -> None:
            # The SSE stream's first event names its session: remember whose it is.
            if message["type"] == "http.response.body" and not opened:
                found = re.search(rb"session_id=([0-9a-f]+)", message.get("body", b""))
                if found:
                    opened.append(found.group(1).decode())
                    self._sessions[opened[0]] = caller
            await send(message)

        try:
            await self._inner(scope, receive, watch if scope["path"].endswith("/sse") else send)
        finally:
            CALLER.reset(token)
            for session in opened:
                self._sessions.pop(session, None)


def _with_query_key(scope: Scope) -> Headers:
    """The request's headers; ``?Authorization=KEY`` (Z.AI's form for SSE clients that
    cannot set headers) counts as ``Authorization: Bearer KEY``."""
    headers = Headers(scope=scope)
    if "authorization" in headers:
        return headers
    key = QueryParams(scope.get("query_string", b"").decode("latin-1")).get("Authorization")
    if not key:
        return headers
    raw = [*scope["headers"], (b"authorization", f"Bearer {key}".encode("latin-1"))]
    return Headers(raw=raw)


def mount_mcp(api: FastAPI, app: GlmServe) -> None:
    for name, inner in app.mcp.apps.items():
        api.mount(f"{PREFIX}/{name}", _Authenticated(inner, app))
