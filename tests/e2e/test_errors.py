"""Every kind of bad input over real HTTP: Z.AI's error body, HTTP status and business code."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import Server

USER = [{"role": "user", "content": "hi"}]
M = "gemma-3-270m"


def _chat(**fields: Any) -> dict[str, Any]:
    return {"model": M, "messages": USER, **fields}


CASES: list[tuple[str, str, bytes | dict[str, Any], int, str]] = [
    ("not json", "POST", b"{model: gemma", 400, "1210"),
    ("json array", "POST", b"[]", 400, "1210"),
    ("unknown model", "POST", _chat(model="glm-9"), 400, "1211"),
    ("missing model", "POST", {"messages": USER}, 400, "1213"),
    ("missing messages", "POST", {"model": M}, 400, "1213"),
    ("null messages", "POST", {"model": M, "messages": None}, 400, "1213"),
    ("empty messages", "POST", _chat(messages=[]), 400, "1214"),
    ("temperature out of range", "POST", _chat(temperature=2), 400, "1214"),
    ("top_p out of range", "POST", _chat(top_p=1.5), 400, "1214"),
    ("max_tokens wrong type", "POST", _chat(max_tokens="many"), 400, "1214"),
    ("stream wrong type", "POST", _chat(stream=[1]), 400, "1214"),
    ("bad role", "POST", _chat(messages=[{"role": "bot", "content": "x"}]), 400, "1214"),
    ("bad thinking", "POST", _chat(thinking={"type": "maybe"}), 400, "1214"),
    ("bad tools", "POST", _chat(tools=[{"type": "function"}]), 400, "1213"),
    ("max_tokens over the maximum", "POST", _chat(max_tokens=8193), 400, "1214"),
    (
        "a schema no grammar can enforce",
        "POST",
        _chat(
            response_format={
                "type": "json_schema",
                "json_schema": {"schema": {"$ref": "https://example.com/s.json"}},
            }
        ),
        400,
        "1214",
    ),
    (
        "json_schema without a schema",
        "POST",
        _chat(response_format={"type": "json_schema"}),
        400,
        "1214",
    ),
    (
        "arguments that are not a JSON object",
        "POST",
        _chat(
            model="glm-4.7",
            messages=[
                *USER,
                {
                    "role": "assistant",
                    "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": "[1"}}],
                },
            ],
        ),
        400,
        "1214",
    ),
    (
        "image to a text model",
        "POST",
        _chat(
            messages=[
                {
                    "role": "user",
                    "content": [{"type": "image_url", "image_url": {"url": "iVBORw0KGgo="}}],
                }
            ]
        ),
        400,
        "1214",
    ),
    ("exclusive fields", "POST", _chat(max_tokens=5, max_completion_tokens=9), 400, "1215"),
    ("only system", "POST", _chat(messages=[{"role": "system", "content": "s"}]), 400, "1214"),
    (
        "only assistant",
        "POST",
        _chat(messages=[{"role": "assistant", "content": "a"}]),
        400,
        "1214",
    ),
    (
        "prompt too long",
        "POST",
        {"model": "glm-4.7", "messages": [{"role": "user", "content": "word " * 3000}]},
        400,
        "1261",
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "body", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
def test_bad_chat_input(
    server: Server, name: str, method: str, body: bytes | dict[str, Any], status: int, code: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    r = httpx.request(
        method,
        f"{server.zai_base}chat/completions",
        content=content,
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    error = r.json()["error"]
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in r.text


def test_stream_request_with_bad_input_is_a_json_error_not_a_stream(server: Server) -> None:
    r = httpx.post(
        f"{server.zai_base}chat/completions", json=_chat(stream=True, model="nope"), timeout=30
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "1211"


def test_unknown_path_and_wrong_method(server: Server) -> None:
    r = httpx.get(f"{server.zai_base}no/such/api", timeout=10)
    assert r.status_code == 404 and r.json()["error"]["code"] == "1222"
    r = httpx.get(f"{server.zai_base}chat/completions", timeout=10)
    assert r.status_code == 405 and r.json()["error"]["code"] == "1212"


def test_double_slash_from_a_base_url_with_trailing_slash(server: Server) -> None:
    r = httpx.post(f"{server.zai_base}/chat/completions", json=_chat(max_tokens=1), timeout=30)
    assert r.status_code == 200, r.text


def test_the_server_keeps_serving_after_bad_input(server: Server) -> None:
    r = httpx.post(f"{server.zai_base}chat/completions", json=_chat(max_tokens=2), timeout=60)
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] <= 2
