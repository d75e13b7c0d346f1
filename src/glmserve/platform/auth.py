"""Who is calling: credentials as Z.AI clients send them, and the decision on them.

The HTTP layer reads the credential from wherever a client put it (``Authorization:
Bearer <key>``, a bare key or JWT without ``Bearer``, ``x-api-key``); an
``Authenticator`` turns it into a ``Principal`` or raises a 401 (codes 1000-1003).

``KeyAuthenticator`` checks keys and the SDK's JWTs (HS256, header ``sign_type: SIGN``,
``exp`` and ``timestamp`` in milliseconds, ``exp`` at most ``[platform]
jwt_max_lifetime_seconds`` after ``timestamp``). ``OpenAuthenticator`` admits everyone: the
server runs without keys (``[platform] open = true``).
"""

from __future__ import annotations

import hmac
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import jwt

from glmserve.errors import (
    AccountInactive,
    AccountLocked,
    AccountSuspended,
    AuthenticationFailed,
    CredentialMissing,
    TokenExpired,
    TokenInvalid,
)
from glmserve.platform.keys import KeyService, secret_hash
from glmserve.store import KeyRow

__all__ = [
    "Credential",
    "Principal",
    "Authenticator",
    "OpenAuthenticator",
    "KeyAuthenticator",
    "read_credential",
]

_JWT = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")

# A millisecond timestamp is above 1e12 from 2001 on; a seconds one stays below until
# the year 33658. Telling them apart is what stops a seconds ``exp`` being misread.
_MS_FLOOR = 10**12
_CLOCK_SKEW_MS = 5 * 60 * 1000


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
    tier: str = "V3"
    balance_nano: int | None = None
    limited: bool = False
    """Limits and balance apply (a real key); False in open mode."""
    safety_exempt: bool = False
    """May turn content safety off per request (``sensitive_word_check`` DISABLE)."""
    status: str = "active"
    """The key's status (store.KeyStatus); only "active" and "restricted" get here."""
    plan: str | None = None
    """The key's GLM Coding Plan (docs/plans.md)."""
    plan_expires_at: int | None = None
    apis: tuple[str, ...] | None = None
    """The APIs the key may call (config.apis.API_NAMES); None: every one."""


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


class KeyAuthenticator:
    def __init__(
        self,
        keys: KeyService,
        now_ms: Callable[[], int] | None = None,
        *,
        max_lifetime_seconds: int = 210,
    ) -> None:
        self._keys = keys
        self._now_ms = now_ms or (lambda: int(time.time() * 1000))
        self._max_lifetime_ms = max_lifetime_seconds * 1000

    def authenticate(self, credential: Credential) -> Principal:
        if credential.kind == "none":
            raise CredentialMissing()
        row = self._jwt(credential.token) if credential.kind == "jwt" else self._key(credential)
        if row.revoked:
            raise AuthenticationFailed("Authentication failed: this API key has been revoked.")
        _check_status(row)
        return Principal(
            row.id,
            row.tier,
            row.balance_nano,
            limited=True,
            safety_exempt=row.safety_exempt,
            status=row.status,
            plan=row.plan,
            plan_expires_at=row.plan_expires_at,
            apis=tuple(row.apis.split(",")) if row.apis is not None else None,
        )

    def _key(self, credential: Credential) -> KeyRow:
        key_id, dot, secret = credential.token.partition(".")
        if not dot or not key_id or not secret or "." in secret:
            raise TokenInvalid("an API key has the form <id>.<secret>")
        row = self._keys.get(key_id)
        # Compare even for an unknown id, so timing does not tell which ids exist.
        expected = row.secret_hash if row else secret_hash("unknown")
        if not hmac.compare_digest(secret_hash(secret), expected) or row is None:
            raise TokenInvalid()
        return row

    def _jwt(self, token: str) -> KeyRow:
        try:
            header = jwt.get_unverified_header(token)
            claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenInvalid("the JWT cannot be read") from None
        if header.get("alg") != "HS256" or header.get("sign_type") != "SIGN":
            raise TokenInvalid("the JWT header must be alg HS256 with sign_type SIGN")
        key_id = claims.get("api_key")
        row = self._keys.get(key_id) if isinstance(key_id, str) and key_id else None
        # An unknown key id and a wrong signature get the same answer, after the same
        # work (a signature checked against a secret), so neither tells which ids exist.
        secret = self._keys.secret_for(row.id if row else "unknown")
        try:
            # The library reads exp as seconds; we check the milliseconds ourselves below.
            jwt.decode(
                token,
                secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            raise TokenInvalid() from None
        if row is None:
            raise TokenInvalid()
        self._check_times(claims)
        return row

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        exp, issued = claims.get("exp"), claims.get("timestamp")
        for name, value in (("exp", exp), ("timestamp", issued)):
            if type(value) is not int:
                raise TokenInvalid(f"the JWT needs an integer '{name}' in milliseconds")
            if value < _MS_FLOOR:
                raise TokenInvalid(f"the JWT '{name}' must be in milliseconds, not seconds")
        assert isinstance(exp, int) and isinstance(issued, int)
        now = self._now_ms()
        if exp <= now:
            raise TokenExpired()
        if issued > now + _CLOCK_SKEW_MS:
            raise TokenInvalid("the JWT 'timestamp' is in the future")
        if exp - issued > self._max_lifetime_ms:
            raise TokenInvalid(
                f"the JWT lives too long: 'exp' is at most {self._max_lifetime_ms // 1000} "
                "seconds after 'timestamp'"
            )


def _check_status(row: KeyRow) -> None:
    """An administrator's hold on the key (1110, 1112, 1121); "restricted" (1313) only
    limits a plan's surfaces (platform/plans.py)."""
    if row.status == "inactive":
        raise AccountInactive()
    if row.status == "locked":
        raise AccountLocked()
    if row.status == "suspended":
        raise AccountSuspended()
