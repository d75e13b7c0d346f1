"""How a worker can fail a request, as the remote engine tells them apart.

The engine retries a retryable failure once on another worker when it happens before
the first token. What reaches the caller: ``ContextExceeded`` and ``EngineBusy`` are
raised by the generation's iterator before any token (the serving layer answers 1261
and 1312); every other failure ends the generation with ``finish_reason="error"``
(1234 / network_error), as a crash of the embedded engine does.
"""

from __future__ import annotations

import json
import re

from glmserve.engine.types import ContextExceeded, EngineBusy

__all__ = [
    "WorkerError",
    "WorkerUnreachable",
    "WorkerFailed",
    "WorkerOverloaded",
    "WorkerRejected",
    "WorkerContextExceeded",
    "ContextExceeded",
    "EngineBusy",
    "http_error",
]


class WorkerError(Exception):
    """A request failed on a worker."""

    retryable = True
    """Another worker may succeed where this one failed."""
    counts_against_worker = True
    """The failure says something about the worker's health (the circuit breaker)."""


class WorkerUnreachable(WorkerError):
    """No connection: refused, timed out, reset before a response."""


class WorkerFailed(WorkerError):
    """A server error, a broken stream or a response we could not read."""


class WorkerOverloaded(WorkerError):
    """HTTP 429 or 503: the worker sheds load (or is still loading)."""

    counts_against_worker = False


class WorkerRejected(WorkerError):
    """The worker refused the request itself (HTTP 4xx): another would refuse it too."""

    retryable = False
    counts_against_worker = False


class WorkerContextExceeded(WorkerRejected, ContextExceeded):
    """The worker's context window cannot hold the prompt (and its max_tokens): the
    engine's ``ContextExceeded``, which the caller sees."""


_CONTEXT_WORDS = re.compile(
    r"context (length|size|window)|exceed_context_size|maximum model length|"
    r"longer than the maximum|too long",
    re.IGNORECASE,
)
_CONTEXT_NUMBER = re.compile(
    r"(?:context (?:length|size|window)[^0-9]{0,40}|n_ctx[^0-9]{0,5})\(?(\d+)", re.IGNORECASE
)


def http_error(status: int, body: bytes, prompt_tokens: int) -> WorkerError:
    """The error an unsuccessful HTTP response stands for."""
    message = _message(body) or f"HTTP {status}"
    text = f"HTTP {status}: {message}"
    if status in (429, 503):
        return WorkerOverloaded(text)
    if 400 <= status < 500 and status not in (401, 403, 404, 408):
        if _CONTEXT_WORDS.search(message):
            match = _CONTEXT_NUMBER.search(message)
            return WorkerContextExceeded(
                text, prompt_tokens, int(match.group(1)) if match else None
            )
        return WorkerRejected(text)
    return WorkerFailed(text)


def stream_error(payload: object, prompt_tokens: int) -> WorkerError:
    """The error an ``{"error": ...}`` event in a stream stands for."""
    raw = json.dumps(payload).encode()
    status = payload.get("code") if isinstance(payload, dict) else None
    return http_error(status if isinstance(status, int) else 500, raw, prompt_tokens)


def _message(body: bytes) -> str:
    """The human part of an error body: ``{"error": {"message": ...}}``, ``{"message":
    ...}``, ``{"detail": ...}`` (the shapes vLLM, SGLang and llama-server send), or the
    text itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return body.decode("utf-8", errors="replace").strip()[:500]
    if isinstance(data, dict) and "error" in data:
        data = data["error"]
    if isinstance(data, dict):
        for key in ("message", "detail", "msg"):
            if isinstance(data.get(key), str):
                kind = data.get("type")
                return f"{data[key]} ({kind})" if isinstance(kind, str) else str(data[key])
    if isinstance(data, str):
        return data
    return json.dumps(data)[:500]
