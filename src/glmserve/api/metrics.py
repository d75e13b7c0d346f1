"""``GET /metrics`` (Prometheus text format) and the count of HTTP requests by status."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client import Counter as PromCounter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from glmserve.api.deps import admin, glmserve
from glmserve.app import GlmServe

__all__ = ["CountRequests", "metrics_endpoint"]


async def metrics_endpoint(request: Request, app: GlmServe = Depends(glmserve)) -> Response:
    """Open to all unless ``[platform] admin_metrics`` (the worker URLs are labels)."""
    if app.settings.platform.admin_metrics:
        admin(request)
    return Response(app.metrics.render(), media_type=CONTENT_TYPE_LATEST)


class CountRequests:
    """Counts every HTTP response by route template (not raw path: ids stay out of the
    label set) and status code."""

    def __init__(self, app: ASGIApp, counter: PromCounter) -> None:
        self.app = app
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [500]

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            self.counter.labels(_route_label(scope), str(status[0])).inc()


def _route_label(scope: Scope) -> str:
    """The request path with its path parameters put back as ``{name}``."""
    if scope.get("route") is None:
        return "unmatched"
    path: str = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        path = path.replace(f"/{value}", f"/{{{name}}}")
    return path
