"""Strings of a request that the store keeps (the model code, ``request_id``,
``user_id``): checked where the request is read, so a request is refused alike on
SQLite and PostgreSQL (which rejects a NUL character, a lone surrogate and a string
longer than its column, where SQLite keeps anything), before it runs: never answered
200 and then left unrecorded and unbilled (docs/platform.md, "Stored strings")."""

from __future__ import annotations

import re

from glmserve.errors import InvalidField

__all__ = ["MAX_STORED", "check_stored"]

MAX_STORED = 128
"""The ledger's columns for model codes, request ids and user ids (store/schema.py)."""

_UNSTORABLE = re.compile("[\\x00\\ud800-\\udfff]")


def check_stored(field: str, value: str | None, limit: int = MAX_STORED) -> None:
    """Raise 1214 naming ``field`` if ``value`` cannot be stored as it is."""
    if value is None:
        return
    if len(value) > limit:
        raise InvalidField(field, f"must be at most {limit} characters.")
    found = _UNSTORABLE.search(value)
    if found is not None:
        what = "NUL characters" if found.group() == "\x00" else "lone surrogate escapes"
        raise InvalidField(field, f"must not contain {what}.")
