"""Credentials are read from every place Z.AI clients put them."""

import pytest

from glmserve.platform.auth import OpenAuthenticator, read_credential

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJhcGlfa2V5IjoiYWJjIn0.c2ln"


@pytest.mark.parametrize(
    ("headers", "kind", "token", "source"),
    [
        ({"authorization": "Bearer abc.secret"}, "key", "abc.secret", "authorization"),
        ({"authorization": "bearer abc.secret"}, "key", "abc.secret", "authorization"),
        ({"authorization": "abc.secret"}, "key", "abc.secret", "authorization"),
        ({"authorization": f"Bearer {JWT}"}, "jwt", JWT, "authorization"),
        ({"authorization": JWT}, "jwt", JWT, "authorization"),
        ({"x-api-key": "abc.secret"}, "key", "abc.secret", "x-api-key"),
        ({}, "none", "", ""),
    ],
)
def test_read_credential(headers: dict[str, str], kind: str, token: str, source: str) -> None:
    cred = read_credential(headers)
    assert (cred.kind, cred.token, cred.source) == (kind, token, source)
    assert token == "" or token not in repr(cred)


def test_open_authenticator_names_the_key_id() -> None:
    auth = OpenAuthenticator()
    assert (
        auth.authenticate(read_credential({"authorization": "Bearer abc.secret"})).key_id == "abc"
    )
    assert auth.authenticate(read_credential({})).key_id == "anonymous"
