"""API keys: ``<id>.<secret>``, as Z.AI issues them and its SDKs split them.

The database keeps only the id and a SHA-256 of the secret. The secret itself is
derived from the server's master key (HMAC-SHA256 of the id), because the SDK's JWTs
are HMAC-signed with the secret: the server must be able to recompute it, yet a copy
of the database alone must not reveal any secret. The master key comes from the
settings (``GLMSERVE_SECRET_KEY``, shared by all gateways of one database) or, by
default, from a file created with mode 0600 in the data directory.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from glmserve.config import TIERS
from glmserve.config.apis import API_NAMES
from glmserve.errors import InvalidField, NotFound
from glmserve.store import KEY_STATUSES, KeyRow, Repository, private_dir

__all__ = ["IssuedKey", "KeyService", "load_master_key", "secret_hash", "MAX_BALANCE_NANO"]

MAX_BALANCE_NANO = 10**18
"""A key's balance is at most 1,000,000,000 USD: stores keep nano-USD in a signed
64-bit integer (at most about 9.2e18), so sums of such balances still fit."""


@dataclass(frozen=True)
class IssuedKey:
    row: KeyRow
    api_key: str
    """``<id>.<secret>``: shown once, at creation."""

    def __repr__(self) -> str:  # never print a secret by accident
        return f"IssuedKey(id={self.row.id!r})"


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def load_master_key(configured: str | None, data_dir: Path) -> bytes:
    if configured:
        return configured.encode()
    path = data_dir / "secret.key"
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    private_dir(data_dir)
    value = secrets.token_urlsafe(48).encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_bytes().strip()
    with os.fdopen(fd, "wb") as out:
        out.write(value)
    return value


class KeyService:
    def __init__(
        self, repository: Repository, master_key: bytes, plans: tuple[str, ...] = ()
    ) -> None:
        self._repo = repository
        self._master = master_key
        self._plans = plans
        """The names of the configured plans."""

    def secret_for(self, key_id: str) -> str:
        digest = hmac.new(self._master, b"glmserve-api-key:" + key_id.encode(), "sha256")
        return digest.hexdigest()[:32]

    def create(self, name: str, tier: str, balance_nano: int | None = None) -> IssuedKey:
        if tier not in TIERS:
            raise InvalidField("tier", f"must be one of {', '.join(TIERS)}, got {tier!r}.")
        if not name or len(name) > 200:
            raise InvalidField("name", "must be 1 to 200 characters.")
        if balance_nano is not None and not 0 <= balance_nano <= MAX_BALANCE_NANO:
            raise InvalidField("balance", "must be between 0 and 1,000,000,000 USD.")
        key_id = secrets.token_hex(16)
        secret = self.secret_for(key_id)
        row = KeyRow(
            id=key_id,
            name=name,
            tier=tier,
            secret_hash=secret_hash(secret),
            balance_nano=balance_nano,
            created_at=int(time.time()),
        )
        self._repo.create_key(row)
        return IssuedKey(row, f"{key_id}.{secret}")

    def get(self, key_id: str) -> KeyRow | None:
        return self._repo.get_key(key_id)

    def list(self) -> list[KeyRow]:
        return self._repo.list_keys()

    def count(self) -> int:
        return self._repo.count_keys()

    def revoke(self, key_id: str) -> KeyRow:
        if not self._repo.revoke_key(key_id, int(time.time())):
            row = self._repo.get_key(key_id)
            if row is None:
                raise NotFound(f"API key {key_id!r} does not exist.")
            return row  # revoked before: revoking is idempotent
        row = self._repo.get_key(key_id)
        assert row is not None
        return row

    def set_safety_exempt(self, key_id: str, exempt: bool) -> KeyRow:
        """Allow the key (or no longer) to send ``sensitive_word_check`` DISABLE."""
        row = self._repo.set_safety_exempt(key_id, exempt)
        if row is None:
            raise NotFound(f"API key {key_id!r} does not exist.")
        return row

    def set_status(self, key_id: str, status: str) -> KeyRow:
        """Hold the key (inactive, locked, suspended, restricted) or release it (active)."""
        if status not in KEY_STATUSES:
            raise InvalidField("status", f"must be one of {', '.join(KEY_STATUSES)}.")
        row = self._repo.set_key_status(key_id, status)
        if row is None:
            raise NotFound(f"API key {key_id!r} does not exist.")
        return row

    def set_apis(self, key_id: str, apis: Sequence[str] | None) -> KeyRow:
        """Limit the key to these APIs (None: every one)."""
        if apis is not None:
            unknown = [a for a in apis if a not in API_NAMES]
            if unknown or not apis:
                raise InvalidField(
                    "apis", f"must be a non-empty list of {', '.join(API_NAMES)}, or null."
                )
        row = self._repo.set_key_apis(key_id, ",".join(dict.fromkeys(apis)) if apis else None)
        if row is None:
            raise NotFound(f"API key {key_id!r} does not exist.")
        return row

    def set_plan(self, key_id: str, plan: str | None, expires_at: int | None) -> KeyRow:
        """Put the key on a Coding Plan (None: take it off), until ``expires_at``."""
        if plan is not None and plan not in self._plans:
            raise InvalidField("plan", f"must be one of {', '.join(self._plans)}, got {plan!r}.")
        if expires_at is not None and not 0 < expires_at < 2**62:
            raise InvalidField("expires_at", "must be a Unix time in seconds.")
        row = self._repo.set_key_plan(key_id, plan, expires_at if plan is not None else None)
        if row is None:
            raise NotFound(f"API key {key_id!r} does not exist.")
        return row

    def top_up(self, key_id: str, amount_nano: int) -> KeyRow:
        if amount_nano <= 0:
            raise InvalidField("amount", "must be positive.")
        current = self._repo.get_key(key_id)
        if current is not None and (current.balance_nano or 0) + amount_nano > MAX_BALANCE_NANO:
            raise InvalidField("amount", "the balance would be over 1,000,000,000 USD.")
        row = self._repo.top_up(key_id, amount_nano)
        if row is None:
            raise NotFound(f"API key {key_id!r} does not exist.")
        return row
