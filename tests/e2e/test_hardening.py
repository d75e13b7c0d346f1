"""Client mistakes that were answered 500 (or accepted) are 4xx with the
surface's error body, over real HTTP on a real server (tests/e2e/conftest.py,
``hardened``)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.conftest import ADMIN_KEY, HARDENED_CORS_ORIGIN, HARDENED_LIMITS

M = "gemma-3-270m"
CHAT = "/api/paas/v4/chat/completions"
ASYNC = "/api/paas/v4/async/chat/completions"
TOKENIZER = "/api/paas/v4/tokenizer"
MESSAGES = "/api/anthropic/v1/messages"
COUNT = "/api/anthropic/v1/messages/count_tokens"
DEEP = 100_000


def _chat(content: Any = "hi", **fields: Any) -> dict[str, Any]:
    return {"model": M, "messages": [{"role": "user", "content": content}], **fields}


def _anthropic(content: Any = "hi", **fields: Any) -> dict[str, Any]:
    return {"max_tokens": 2, **_chat(content), **fields}


def _post(server: Server, path: str, body: bytes | dict[str, Any], **kw: Any) -> httpx.Response:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", **kw.pop("headers", {})}
    return httpx.post(server.base + path, content=data, headers=headers, timeout=60, **kw)


def _zai_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    return str(error["message"])


def _anthropic_error(response: httpx.Response, status: int, kind: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == kind, body
    return str(body["error"]["message"])


# --- deep nesting --------------------------------------------------------------------

DEEP_ARRAY = b"[" * DEEP + b"]" * DEEP


@pytest.mark.parametrize("path", [CHAT, ASYNC, TOKENIZER, "/v1/chat/completions"])
def test_deep_nesting_at_top_level_and_in_a_field(hardened: Server, path: str) -> None:
    assert "nested" in _zai_error(_post(hardened, path, DEEP_ARRAY), 400, "1210")
    in_field = b'{"model": "gemma-3-270m", "messages": ' + DEEP_ARRAY + b"}"
    assert "nested" in _zai_error(_post(hardened, path, in_field), 400, "1210")


@pytest.mark.parametrize("path", [MESSAGES, COUNT])
def test_deep_nesting_on_anthropic(hardened: Server, path: str) -> None:
    message = _anthropic_error(_post(hardened, path, DEEP_ARRAY), 400, "invalid_request_error")
    assert "nested" in message


def test_deep_nesting_inside_a_tool_calls_arguments_string(hardened: Server) -> None:
    arguments = '{"a": ' + "[" * DEEP + "]" * DEEP + "}"
    body = _chat()
    body["messages"] += [
        {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": arguments}}]},
        {"role": "tool", "content": "ok", "tool_call_id": "x"},
    ]
    message = _zai_error(_post(hardened, CHAT, body), 400, "1214")
    assert "nested" in message and "arguments" in message


def test_nesting_within_the_limit_is_accepted(hardened: Server) -> None:
    depth = HARDENED_LIMITS["max_json_depth"] - 3
    nested: Any = "x"
    for _ in range(depth):
        nested = [nested]
    # response_format json_schema's schema holds arbitrary JSON: deep, yet allowed
    body = _chat(max_tokens=1, sensitive_word_check={"deep": nested})
    assert _post(hardened, CHAT, body).status_code == 200


# --- invalid Unicode and encodings -------------------------------------------------

LONE = b'"a\\ud800b"'


@pytest.mark.parametrize("path", [CHAT, ASYNC, TOKENIZER])
def test_a_lone_surrogate_is_refused_on_zai_paths(hardened: Server, path: str) -> None:
    body = b'{"model": "gemma-3-270m", "messages": [{"role": "user", "content": ' + LONE + b"}]}"
    assert "surrogate" in _zai_error(_post(hardened, path, body), 400, "1210")


@pytest.mark.parametrize("path", [MESSAGES, COUNT])
def test_a_lone_surrogate_is_refused_on_anthropic(hardened: Server, path: str) -> None:
    body = (
        b'{"model": "gemma-3-270m", "max_tokens": 2, "messages": [{"role": "user", '
        b'"content": ' + LONE + b"}]}"
    )
    message = _anthropic_error(_post(hardened, path, body), 400, "invalid_request_error")
    assert "surrogate" in message


def test_a_pair_of_surrogate_escapes_is_text(hardened: Server) -> None:
    body = b'{"model": "gemma-3-270m", "messages": [{"role": "user", "content": "\\ud83d\\ude00"}]}'
    assert _post(hardened, TOKENIZER, body).status_code == 200


ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-32"]


@pytest.mark.parametrize(
    ("path", "encoding"),
    [(path, encoding) for path in (TOKENIZER, COUNT) for encoding in ENCODINGS]
    # the endpoints that generate: the encodings other than UTF-8 (which every test sends)
    + [(path, encoding) for path in (CHAT, ASYNC, MESSAGES) for encoding in ("utf-16", "utf-32")],
)
def test_every_endpoint_accepts_the_same_json_encodings(
    hardened: Server, path: str, encoding: str
) -> None:
    body = _anthropic() if path.startswith("/api/anthropic") else _chat(max_tokens=1)
    response = _post(hardened, path, json.dumps(body).encode(encoding))
    assert response.status_code == 200, response.text


def test_bytes_that_are_no_text_are_a_400(hardened: Server) -> None:
    _zai_error(_post(hardened, ASYNC, b'{"model": "\xff\xfe\xfa"}'), 400, "1210")


# --- strict types and empty messages ----------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"max_tokens": True},
        {"top_k": False},
        {"temperature": True},
        {"seed": False},
        {"max_tokens": 2.0},
    ],
)
def test_booleans_are_not_numbers(hardened: Server, fields: dict[str, Any]) -> None:
    field = next(iter(fields))
    assert field in _zai_error(_post(hardened, CHAT, _chat(**fields)), 400, "1214")


def test_booleans_are_not_numbers_on_anthropic(hardened: Server) -> None:
    response = _post(hardened, MESSAGES, _anthropic(max_tokens=True))
    assert "max_tokens" in _anthropic_error(response, 400, "invalid_request_error")


def test_an_integer_is_a_number(hardened: Server) -> None:
    assert _post(hardened, CHAT, _chat(max_tokens=1, temperature=1, top_p=1)).status_code == 200


@pytest.mark.parametrize("content", ["", []])
def test_an_empty_user_message_is_1214(hardened: Server, content: Any) -> None:
    assert "empty" in _zai_error(_post(hardened, CHAT, _chat(content)), 400, "1214")


# --- sizes ---------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_from_its_content_length(hardened: Server) -> None:
    body = json.dumps(_chat("a" * HARDENED_LIMITS["max_body_bytes"])).encode()
    _zai_error(_post(hardened, CHAT, body), 413, "1210")
    response = _post(hardened, MESSAGES, json.dumps(_anthropic("a" * len(body))).encode())
    _anthropic_error(response, 413, "request_too_large")


def test_a_streamed_body_over_the_limit_is_413(hardened: Server) -> None:
    chunk = b" " * 65536

    def chunks() -> Any:  # no Content-Length: chunked, refused while it arrives
        yield b'{"model": "gemma-3-270m", "messages": []'
        for _ in range(HARDENED_LIMITS["max_body_bytes"] // len(chunk) + 2):
            yield chunk
        yield b"}"

    response = httpx.post(hardened.base + CHAT, content=chunks(), timeout=60)
    _zai_error(response, 413, "1210")
    assert response.headers["connection"] == "close"


def test_too_many_messages_is_1214(hardened: Server) -> None:
    count = HARDENED_LIMITS["max_messages"] + 1
    body = {"model": M, "messages": [{"role": "user", "content": "a"}] * count}
    assert "messages" in _zai_error(_post(hardened, CHAT, body), 400, "1214")
    assert "messages" in _zai_error(_post(hardened, TOKENIZER, body), 400, "1214")


def test_text_over_the_limits_is_1261_before_tokenizing(hardened: Server) -> None:
    one = "a " * (HARDENED_LIMITS["max_message_chars"] // 2 + 1)
    assert "messages[0]" in _zai_error(_post(hardened, CHAT, _chat(one)), 400, "1261")
    half = "a" * (HARDENED_LIMITS["max_message_chars"] - 10)
    body = _chat(half)
    body["messages"] += [{"role": "assistant", "content": half}, {"role": "user", "content": half}]
    _zai_error(_post(hardened, TOKENIZER, body), 400, "1261")
    response = _post(hardened, COUNT, _anthropic(one))
    _anthropic_error(response, 400, "invalid_request_error")


# --- the admin API -------------------------------------------------------------------

ADMIN = {"authorization": f"Bearer {ADMIN_KEY}"}


def _admin(server: Server, path: str, body: Any = None) -> httpx.Response:
    if body is None:
        return httpx.get(server.base + path, headers=ADMIN, timeout=30)
    return _post(server, path, body, headers=ADMIN)


@pytest.mark.parametrize("amount", [9.3e9, "9300000000", 1e19, "1e19", 1e300, "1e400", "1e-400"])
def test_admin_amounts_beyond_what_the_store_holds(hardened: Server, amount: Any) -> None:
    created = _admin(hardened, "/admin/keys", {"name": "rich", "tier": "V0"})
    assert created.status_code == 200
    key = created.json()["id"]
    response = _admin(hardened, f"/admin/keys/{key}/top-up", {"amount": amount})
    if amount == "1e-400":  # a positive amount below a nano-dollar rounds to nothing
        _zai_error(response, 400, "1214")
        return
    assert "amount" in _zai_error(response, 400, "1214")
    response = _admin(hardened, "/admin/keys", {"name": "rich", "balance": amount})
    assert "balance" in _zai_error(response, 400, "1214")


def test_admin_top_ups_cannot_sum_past_the_store(hardened: Server) -> None:
    created = _admin(hardened, "/admin/keys", {"name": "rich", "balance": 900_000_000})
    key = created.json()["id"]
    response = _admin(hardened, f"/admin/keys/{key}/top-up", {"amount": 200_000_000})
    assert "balance" in _zai_error(response, 400, "1214")
    ok = _admin(hardened, f"/admin/keys/{key}/top-up", {"amount": "100000000"})
    assert ok.json()["balance"] == "1000000000.000000000"


@pytest.mark.parametrize("day", ["2026-13-45", "2026-02-30", "2026-00-01"])
def test_admin_usage_dates_are_validated(hardened: Server, day: str) -> None:
    response = _admin(hardened, f"/admin/usage?since={day}")
    assert "since" in _zai_error(response, 400, "1214")
    assert _admin(hardened, "/admin/usage?since=2026-02-28").status_code == 200


# --- 405, CORS -----------------------------------------------------------------------


def test_405_says_which_methods_are_allowed(hardened: Server) -> None:
    response = httpx.delete(hardened.base + CHAT, timeout=10)
    _zai_error(response, 405, "1212")
    assert response.headers["allow"] == "POST"
    response = httpx.put(hardened.base + "/api/paas/v4/models", timeout=10)
    assert response.status_code == 405 and response.headers["allow"] == "GET"


def test_cors_answers_only_the_configured_origins(hardened: Server) -> None:
    preflight = {
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization, content-type, x-stainless-os",
    }
    allowed = {"origin": HARDENED_CORS_ORIGIN, **preflight}
    response = httpx.options(hardened.base + CHAT, headers=allowed, timeout=10)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == HARDENED_CORS_ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    models = httpx.get(hardened.base + "/api/paas/v4/models", headers=allowed, timeout=10)
    assert models.headers["access-control-allow-origin"] == HARDENED_CORS_ORIGIN
    other = {"origin": "https://elsewhere.example", **preflight}
    response = httpx.options(hardened.base + CHAT, headers=other, timeout=10)
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    models = httpx.get(hardened.base + "/api/paas/v4/models", headers=other, timeout=10)
    assert "access-control-allow-origin" not in models.headers
