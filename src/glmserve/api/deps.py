"""FastAPI dependencies: the application object, the caller, and the request's metering."""

from __future__ import annotations

import contextlib
import hmac
from collections.abc import AsyncIterator, Iterator
from typing import Literal

from fastapi import Depends, Request

from glmserve.app import GlmServe
from glmserve.errors import AdminRequired, GlmServeError
from glmserve.platform.admission import Attempt
from glmserve.platform.auth import Principal, read_credential

__all__ = ["glmserve", "principal", "admitted", "attempt", "embeddings_attempt", "admin"]


def glmserve(request: Request) -> GlmServe:
    app: GlmServe = request.app.state.glmserve
    return app


def principal(request: Request) -> Principal:
    """Who is calling, from the headers Z.AI clients use (Authorization, x-api-key).

    Synchronous on purpose: FastAPI runs it in a worker thread, and it reads the key
    from the database.
    """
    return glmserve(request).auth.authenticate(read_credential(request.headers))


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


@contextlib.contextmanager
def _metered(
    request: Request, caller: Principal, kind: Literal["chat", "embeddings"]
) -> Iterator[Attempt]:
    # A context manager, not a generator iterated by the dependency: the route's error
    # is thrown into the dependency at its ``yield`` and must reach the except below,
    # so the record carries the error's code.
    metered = glmserve(request).platform.admission.attempt(caller, kind)
    try:
        yield metered
    except GlmServeError as exc:
        metered.close(exc)
        raise
    finally:
        # Anything else (a client gone, a bug): the completion's own state tells.
        metered.close()


def admin(request: Request) -> None:
    """The admin API: ``Authorization: Bearer <admin key>`` (or x-api-key)."""
    configured = glmserve(request).settings.platform.admin_key
    given = read_credential(request.headers).token
    if not configured or not hmac.compare_digest(given.encode(), configured.encode()):
        raise AdminRequired()
