"""FastAPI dependencies: the application object and the caller."""

from __future__ import annotations

from fastapi import Request

from glmserve.app import GlmServe
from glmserve.platform.auth import Principal, read_credential

__all__ = ["glmserve", "principal"]


def glmserve(request: Request) -> GlmServe:
    app: GlmServe = request.app.state.glmserve
    return app


def principal(request: Request) -> Principal:
    """Who is calling, from the headers Z.AI clients use (Authorization, x-api-key)."""
    return glmserve(request).auth.authenticate(read_credential(request.headers))
