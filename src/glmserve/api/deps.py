"""FastAPI dependencies: the application object, the caller, and the request's metering."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Iterator
from typing import Literal

from fastapi import Depends, Request

from glmserve.app import GlmServe
from glmserve.errors import AdminRequired, ApiOffline, GlmServeError, PermissionDenied
from glmserve.platform.admission import Attempt
from glmserve.platform.auth import Principal, read_credential

__all__ = [
    "glmserve",
    "principal",
    "admitted",
    "attempt",
    "embeddings_attempt",
    "moderations_attempt",
    "tools_attempt",
    "images_attempt",
    "admin",
    "admin_or_none",
]


def glmserve(request: Request) -> GlmServe:
    app: GlmServe = request.app.state.glmserve
    return app


def principal(request: Request) -> Principal:
    """Who is calling, from the headers Z.AI clients use (Authorization, x-api-key).

    Synchronous on purpose: FastAPI runs it in a worker thread, and it reads the key
    from the database.
    """
    app = glmserve(request)
    api = api_name(request.url.path)
    if api in app.settings.disabled_apis:
        raise ApiOffline(api, "turned off on this server")
    caller = app.auth.authenticate(read_credential(request.headers))
    if caller.apis is not None and api not in caller.apis:
        raise PermissionDenied(api, "this API key may call " + ", ".join(caller.apis))
    return caller


async def admitted(
    request: Request, caller: Principal = Depends(principal)
) -> AsyncIterator[Principal]:
    """The caller of a route nothing is billed for (files and batches), admitted like
    any request: counted against the key's tier limits (counters apart from its model
    requests), holding one of its slots while the route runs (``Admission.hold``)."""
    async with glmserve(request).platform.admission.hold(caller, "files", apart=True):
        yield caller


async def attempt(
    request: Request, caller: Principal = Depends(principal)
) -> AsyncIterator[Attempt]:
    """The request's admission and its one ledger record.

    The code after ``yield`` runs once the response is over: sent in full, failed, or
    dropped by a client that went away mid-stream. That is where the record is written.
    """
    with _metered(request, caller, "chat") as metered:
        yield metered


async def embeddings_attempt(
    request: Request, caller: Principal = Depends(principal)
) -> AsyncIterator[Attempt]:
    """``attempt`` for the retrieval routes: the ledger records them as "embeddings"."""
    with _metered(request, caller, "embeddings") as metered:
        yield metered


async def moderations_attempt(
    request: Request, caller: Principal = Depends(principal)
) -> AsyncIterator[Attempt]:
    """``attempt`` for ``/moderations``: the ledger records them as "moderate"."""
    with _metered(request, caller, "moderate") as metered:
        yield metered


async def tools_attempt(
    request: Request, caller: Principal = Depends(principal)
) -> AsyncIterator[Attempt]:
    """``attempt`` for web search and the reader: the ledger records them as "tools"."""
    with _metered(request, caller, "tools") as metered:
        yield metered


async def images_attempt(
    request: Request, caller: Principal = Depends(principal)
) -> AsyncIterator[Attempt]:
    """``attempt`` for image generation: the ledger records it as "image"."""
    with _metered(request, caller, "image") as metered:
        yield metered


@contextlib.contextmanager
def _metered(
    request: Request,
    caller: Principal,
    kind: Literal["chat", "embeddings", "moderate", "tools", "image"],
) -> Iterator[Attempt]:
    # A context manager, not a generator iterated by the dependency: the route's error
    # is thrown into the dependency at its ``yield`` and must reach the except below,
    # so the record carries the error's code.
    metered = glmserve(request).platform.admission.attempt(caller, kind)
    metered.surface = surface_of(request.url.path)
    try:
        yield metered
    except GlmServeError as exc:
        metered.close(exc)
        raise
    finally:
        # Anything else (a client gone, a bug): the completion's own state tells.
        metered.close()


_API_SEGMENTS = {
    "chat": "chat",
    "async": "async",
    "async-result": "async",
    "tokenizer": "tokenizer",
    "embeddings": "embeddings",
    "rerank": "rerank",
    "moderations": "moderations",
    "files": "files",
    "batches": "batches",
}


def api_name(path: str) -> str:
    """The API a path belongs to (config.apis.API_NAMES; docs/api.md "API names")."""
    surface = surface_of(path)
    if surface in ("coding", "anthropic"):
        return surface
    segments = path.strip("/").split("/")
    if "agents" in segments:  # /api/v1/agents, /api/paas/v4/v1/agents
        return "agents"
    rest = path.removeprefix("/v1/") if surface == "openai" else path.removeprefix("/api/paas/v4/")
    first = rest.lstrip("/").split("/", 1)[0]
    # a path of no known API is named by its first segment: a limited key is refused it
    return _API_SEGMENTS.get(first, first or "chat")


def surface_of(path: str) -> str:
    """Which surface a path is on (config.plans.Surface), for the plan counters."""
    if path.startswith("/api/coding/"):
        return "coding"
    if path.startswith("/api/anthropic"):
        return "anthropic"
    if path.startswith("/v1/"):
        return "openai"
    return "paas"


def admin(request: Request) -> None:
    """The admin API: ``Authorization: Bearer <admin key>`` (or x-api-key)."""
    configured = glmserve(request).settings.platform.admin_key
    given = read_credential(request.headers).token
    if not configured or not hmac.compare_digest(given.encode(), configured.encode()):
        raise AdminRequired()


def admin_or_none(request: Request) -> bool:
    """Whether the caller gave the admin key (routes open to all that tell the admin
    more)."""
    try:
        admin(request)
    except AdminRequired:
        return False
    return True
