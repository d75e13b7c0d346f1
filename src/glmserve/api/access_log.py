"""Keeping credentials out of the access log.

uvicorn writes every request's path with its query string. A client that puts its key
there (``?api_key=...``: no route reads it, but clients do send it) would leave the key
in the log; this filter replaces such values with ``[redacted]`` before the line is
written.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, urlencode

__all__ = ["RedactCredentials", "redact_query", "install"]

_SECRET_NAMES = {
    "api_key", "apikey", "api-key", "key", "x-api-key", "token", "access_token", "auth",
    "authorization", "bearer", "jwt", "secret", "password", "admin_key", "session",
}  # fmt: skip
_JWT = re.compile(r"^[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*$")
_KEY = re.compile(r"^[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{16,}$")
_REDACTED = "[redacted]"


def redact_query(target: str) -> str:
    """``target`` (a path with its query string) with credential values replaced."""
    path, sep, query = target.partition("?")
    if not sep:
        return target
    pairs = parse_qsl(query, keep_blank_values=True)
    if not any(_secret(n, v) for n, v in pairs):
        return target
    clean = [(n, _REDACTED if _secret(n, v) else v) for n, v in pairs]
    return f"{path}?{urlencode(clean, safe='[]')}"


def _secret(name: str, value: str) -> bool:
    return name.lower() in _SECRET_NAMES or bool(_JWT.match(value) or _KEY.match(value))


class RedactCredentials(logging.Filter):
    """For the ``uvicorn.access`` logger: its third argument is the request target."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def install() -> None:
    """Add the filter to uvicorn's access logger (once)."""
    logger = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactCredentials) for f in logger.filters):
        logger.addFilter(RedactCredentials())
