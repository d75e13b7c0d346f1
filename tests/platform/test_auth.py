"""Keys and JWTs as the Z.AI SDK makes them, checked against a real key store."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from glmserve.errors import GlmServeError
from glmserve.platform.auth import KeyAuthenticator, read_credential
from glmserve.platform.keys import IssuedKey, KeyService, load_master_key
from glmserve.store import open_repository


@pytest.fixture
def keys(tmp_path: Path) -> Iterator[KeyService]:
    repo = open_repository(f"sqlite:///{tmp_path / 'k.db'}")
    yield KeyService(repo, load_master_key(None, tmp_path))
    repo.close()


def _sdk_jwt(api_key: str, *, exp_ms: int | None = None, ts_ms: int | None = None) -> str:
    """What zai-sdk's ``_jwt_token.generate_token`` sends."""
    key_id, secret = api_key.split(".")
    now = int(time.time() * 1000)
    payload = {"api_key": key_id, "exp": exp_ms or now + 210_000, "timestamp": ts_ms or now}
    return jwt.encode(
        payload, secret, algorithm="HS256", headers={"alg": "HS256", "sign_type": "SIGN"}
    )


def _code(auth: KeyAuthenticator, header: str | None) -> str:
    headers = {} if header is None else {"authorization": header}
    try:
        auth.authenticate(read_credential(headers))
    except GlmServeError as exc:
        assert exc.status == 401
        return exc.code
    return "ok"


@pytest.fixture
def issued(keys: KeyService) -> IssuedKey:
    return keys.create("test", "V1", balance_nano=5)


def test_key_and_jwt_forms_are_accepted(keys: KeyService, issued: IssuedKey) -> None:
    auth = KeyAuthenticator(keys)
    for header in (
        f"Bearer {issued.api_key}",
        issued.api_key,
        f"Bearer {_sdk_jwt(issued.api_key)}",
        _sdk_jwt(issued.api_key),
    ):
        assert _code(auth, header) == "ok"
    who = auth.authenticate(read_credential({"x-api-key": issued.api_key}))
    assert (who.key_id, who.tier, who.balance_nano, who.limited) == (issued.row.id, "V1", 5, True)


def test_failures_have_their_codes(keys: KeyService, issued: IssuedKey) -> None:
    auth = KeyAuthenticator(keys)
    key_id = issued.row.id
    now = int(time.time() * 1000)
    assert _code(auth, None) == "1001"
    assert _code(auth, f"Bearer {key_id}.wrongsecret") == "1002"
    assert _code(auth, "Bearer nodot") == "1002"
    assert _code(auth, "Bearer unknown.secret") == "1002"
    wrong = f"{key_id}.{'f' * 32}"
    assert _code(auth, f"Bearer {_sdk_jwt(wrong)}") == "1002"
    expired = _sdk_jwt(issued.api_key, exp_ms=now - 1, ts_ms=now - 210_001)
    assert _code(auth, f"Bearer {expired}") == "1003"
    # exp in seconds would look like the far future to a stock JWT check: refused.
    seconds = _sdk_jwt(issued.api_key, exp_ms=now // 1000 + 210, ts_ms=now // 1000)
    assert _code(auth, f"Bearer {seconds}") == "1002"
    unsigned_type = jwt.encode(
        {"api_key": key_id, "exp": now + 1000, "timestamp": now},
        issued.api_key.split(".")[1],
        algorithm="HS256",
    )
    assert _code(auth, f"Bearer {unsigned_type}") == "1002"  # no sign_type: SIGN
    keys.revoke(key_id)
    assert _code(auth, f"Bearer {issued.api_key}") == "1000"
    assert _code(auth, f"Bearer {_sdk_jwt(issued.api_key)}") == "1000"


def test_secrets_are_not_stored(keys: KeyService, issued: IssuedKey, tmp_path: Path) -> None:
    secret = issued.api_key.split(".")[1]
    assert secret.encode() not in (tmp_path / "k.db").read_bytes()
    assert secret not in repr(issued) and secret not in repr(keys.get(issued.row.id))
    assert all(secret not in repr(row) for row in keys.list())


def test_another_master_key_cannot_sign_for_a_key(keys: KeyService, issued: IssuedKey) -> None:
    other = KeyService(keys._repo, b"another master key, another deployment")
    forged = f"{issued.row.id}.{other.secret_for(issued.row.id)}"
    assert _code(KeyAuthenticator(keys), f"Bearer {_sdk_jwt(forged)}") == "1002"
