"""Who is calling: credentials as Z.AI clients send them, and the decision on them.

The HTTP layer reads the credential from wherever a client put it (``Authorization:
Bearer <key>``, a bare key or JWT without ``Bearer``, ``x-api-key``); an
``Authenticator`` turns it into a ``Principal``. Until API keys arrive the server runs
``OpenAuthenticator``, which admits every caller but still names the key it was given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Credential", "Principal", "Authenticator", "OpenAuthenticator", "read_credential"]

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class Credential:
    kind: Literal["none", "key", "jwt"]
    token: str = ""
    source: Literal["", "authorization", "x-api-key"] = ""

    def __repr__(self) -> str:  # never print a secret
        return f"Credential(kind={self.kind!r}, source={self.source!r})"


@dataclass(frozen=True)
class Principal:
    key_id: str
    """The public part of the API key (before the dot), or "anonymous"."""


class Authenticator(Protocol):
    def authenticate(self, credential: Credential) -> Principal: ...


def read_credential(headers: Mapping[str, str]) -> Credential:
    """The credential in request headers (names are case-insensitive in ``headers``)."""
    auth = headers.get("authorization", "").strip()
    source: Literal["authorization", "x-api-key"] = "authorization"
    if not auth:
        auth, source = headers.get("x-api-key", "").strip(), "x-api-key"
    if not auth:
        return Credential("none")
    scheme, _, rest = auth.partition(" ")
    token = rest.strip() if scheme.lower() == "bearer" and rest.strip() else auth
    return Credential("jwt" if _JWT.match(token) else "key", token, source)


class OpenAuthenticator:
    """Admits everyone: the server runs without API keys."""

    def authenticate(self, credential: Credential) -> Principal:
        if credential.kind == "key" and "." in credential.token:
            return Principal(credential.token.split(".", 1)[0])
        return Principal("anonymous")
