"""The ASGI application: routes of every surface, error handlers, path normalization."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from glmserve import __version__, console
from glmserve.api import (
    access_log,
    admin,
    agents,
    anthropic,
    batch_routes,
    moderations,
    platform_routes,
    retrieval,
    zai,
)
from glmserve.api import web_search as web_search_routes
from glmserve.api.deps import admin_or_none, glmserve
from glmserve.api.docs_page import install_docs_page
from glmserve.api.errors import install_error_handlers
from glmserve.api.mcp import mount_mcp
from glmserve.api.metrics import CountRequests, metrics_endpoint
from glmserve.api.openapi import documented, openapi
from glmserve.app import GlmServe

__all__ = ["create_app"]

ZAI_PREFIX = "/api/paas/v4"
CODING_PREFIX = "/api/coding/paas/v4"
OPENAI_PREFIX = "/v1"


class _CollapseSlashes:
    """``//`` in a path becomes ``/``: clients that join a base URL ending in ``/`` with a
    path starting with ``/`` send ``/api/paas/v4//chat/completions``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and "//" in scope["path"]:
            path = re.sub(r"/{2,}", "/", scope["path"])
            scope = {**scope, "path": path, "raw_path": path.encode()}
        await self.app(scope, receive, send)


def create_app(app: GlmServe) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # Async-task workers and lease renewal run with the server; at shutdown (after
        # uvicorn has drained in-flight requests) every ledger record is written.
        access_log.install()  # after uvicorn has set its loggers up
        await app.start()
        try:
            async with app.mcp.running():
                yield
        finally:
            await app.stop()

    api = FastAPI(
        title="glmserve", version=__version__, docs_url=None, redoc_url=None, lifespan=lifespan
    )
    api.state.glmserve = app
    install_error_handlers(api)
    api.include_router(zai.make_router(coding=False), prefix=ZAI_PREFIX)
    api.include_router(zai.make_router(coding=True), prefix=CODING_PREFIX)
    # OpenAI-compatible paths (base URL http://host:port/v1), same behaviour as Z.AI's.
    api.include_router(zai.make_router(coding=False), prefix=OPENAI_PREFIX)
    api.include_router(anthropic.router, prefix=anthropic.PREFIX + "/v1")
    api.include_router(anthropic.base_router, prefix=anthropic.PREFIX)
    api.include_router(platform_routes.router, prefix=ZAI_PREFIX)
    api.include_router(retrieval.router, prefix=ZAI_PREFIX)
    api.include_router(moderations.router, prefix=ZAI_PREFIX)
    api.include_router(retrieval.router, prefix=OPENAI_PREFIX)
    api.include_router(web_search_routes.router, prefix=ZAI_PREFIX)
    api.include_router(web_search_routes.router, prefix=CODING_PREFIX)
    api.include_router(batch_routes.router, prefix=ZAI_PREFIX)
    api.include_router(batch_routes.router, prefix=OPENAI_PREFIX)
    for prefix in agents.PREFIXES:
        api.include_router(agents.router, prefix=prefix)
    api.include_router(admin.router, prefix="/admin")
    mount_mcp(api, app)
    api.add_api_route("/health", _health, methods=["GET"], **documented(auth="none"))
    install_docs_page(api)  # a plain page, no scripts (api/docs_page.py)
    console.install(api)  # the web console at /console (docs/console.md)
    api.add_api_route("/metrics", metrics_endpoint, methods=["GET"], include_in_schema=False)
    api.add_middleware(CountRequests, counter=app.metrics.requests)
    _allow_origins(api, app.settings.http.cors_origins)
    api.add_middleware(_CollapseSlashes)
    open_access = app.settings.platform.open_access
    api.openapi = lambda: openapi(api, open_access=open_access)  # type: ignore[method-assign]
    return api


def _allow_origins(api: FastAPI, origins: tuple[str, ...]) -> None:
    """CORS for browser clients, off unless ``[http] cors_origins`` names some."""
    if not origins:
        return
    api.add_middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_methods=["GET", "POST", "HEAD", "OPTIONS"],
        allow_headers=["*"],  # the SDKs add their own (x-stainless-*, anthropic-*)
        expose_headers=["x-should-retry"],
        max_age=600,
    )


async def _health(
    app: GlmServe = Depends(glmserve), is_admin: bool = Depends(admin_or_none)
) -> dict[str, Any]:
    """Liveness and what each engine is doing; the engine's process id only to the
    admin key."""
    models = []
    for model in app.models:
        stats = asdict(model.engine.stats())
        if not is_admin:
            stats.pop("pid", None)
        models.append({"model": model.code, "context_size": model.context_size, **stats})
    return {"status": "ok", "models": models}
