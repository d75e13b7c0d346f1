"""The platform end to end: a real server with API keys, driven by real clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from zai import ZaiClient

from tests.platform.gateway import Gateway, auth, write_config

COUNT = [{"role": "user", "content": "Count from 1 to 1000: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"}]
HELLO = [{"role": "user", "content": "Say hello."}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather of a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("gateway")
    config = write_config(tmp / "glmserve.toml", gemma_gguf, tmp / "data")
    server = Gateway(config, tmp / "server.log")
    yield server
    server.stop()


def _chat(gateway: Gateway, key: str | None, **body: Any) -> httpx.Response:
    payload = {"model": "glm-4.7", "messages": HELLO, "max_tokens": 4, "do_sample": False}
    payload.update(body)
    headers = auth(key) if key else {}
    return httpx.post(
        f"{gateway.zai_base}chat/completions", json=payload, headers=headers, timeout=120
    )


def _code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def test_first_start_prints_a_key_that_works(gateway: Gateway) -> None:
    out = gateway.output()
    assert "created the first API key (tier V3)" in out
    printed = out.split("shown only this once:")[1].split()[0]
    assert _chat(gateway, printed).status_code == 200


def test_auth_failures_have_their_codes(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    key_id, secret = key.split(".")
    now = int(time.time() * 1000)
    headers = {"alg": "HS256", "sign_type": "SIGN"}
    expired = jwt.encode(
        {"api_key": key_id, "exp": now - 1000, "timestamp": now - 211_000},
        secret,
        algorithm="HS256",
        headers=headers,
    )
    wrong = jwt.encode(
        {"api_key": key_id, "exp": now + 210_000, "timestamp": now},
        "0" * 32,
        algorithm="HS256",
        headers=headers,
    )
    assert _code(_chat(gateway, None)) == (401, "1001")
    assert _code(_chat(gateway, f"{key_id}.{'0' * 32}")) == (401, "1002")
    assert _code(_chat(gateway, wrong)) == (401, "1002")
    assert _code(_chat(gateway, expired)) == (401, "1003")
    assert _chat(gateway, key).status_code == 200
    assert gateway.admin("POST", f"/keys/{key_id}/revoke").json()["revoked_at"] is not None
    assert _code(_chat(gateway, key)) == (401, "1000")


def test_zai_sdk_in_jwt_mode_is_accepted(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    client = ZaiClient(api_key=key, base_url=gateway.zai_base, disable_token_cache=False)
    sent = client.auth_headers["Authorization"].removeprefix("Bearer ")
    assert jwt.get_unverified_header(sent)["sign_type"] == "SIGN"  # a JWT, not the key
    reply = client.chat.completions.create(
        model="glm-4.7", messages=HELLO, max_tokens=3, do_sample=False
    )
    assert reply.usage.completion_tokens == 3
    # The server saw a JWT: the key's ledger has the request under its id.
    assert gateway.usage(key, settled=1)["requests"] == 1


def test_admin_api_needs_the_admin_key(gateway: Gateway) -> None:
    r = httpx.get(f"{gateway.base}/admin/keys", headers=auth("not-the-admin-key"), timeout=10)
    assert _code(r) == (401, "1004")
    r = gateway.admin("POST", "/keys", json={"name": "x", "tier": "V9"})
    assert _code(r) == (400, "1214")
    r = gateway.admin("POST", "/keys/nope/top-up", json={"amount": 5})
    assert _code(r) == (404, "1214")
    r = gateway.admin("GET", "/usage", params={"since": "yesterday"})
    assert _code(r) == (400, "1214")
    listed = gateway.admin("GET", "/keys").json()["data"]
    assert listed and all("api_key" not in k and "secret" not in str(k) for k in listed)


def test_an_exhausted_balance_is_429_1113_not_retried(gateway: Gateway) -> None:
    key = gateway.create_key("V0", balance="0")
    r = _chat(gateway, key)
    assert _code(r) == (429, "1113")
    assert r.headers["x-should-retry"] == "false"
    key_id = key.split(".")[0]
    topped = gateway.admin("POST", f"/keys/{key_id}/top-up", json={"amount": "0.01"}).json()
    assert topped["balance"] == "0.010000000"
    assert _chat(gateway, key).status_code == 200
    # glm-4.7's price is charged from the balance.
    spent = gateway.usage(key, settled=2)["cost"]
    assert spent > 0
    balance = next(k for k in gateway.admin("GET", "/keys").json()["data"] if k["id"] == key_id)
    assert float(balance["balance"]) == pytest.approx(0.01 - spent, abs=1e-9)


async def _burst(base: list[str], key: str, n: int) -> list[tuple[int, str]]:
    """n streams at once; the admitted ones stay open until every answer is in, so no
    slot frees during the burst: the count does not depend on timing."""
    all_answered = asyncio.Event()
    answers: list[tuple[int, str]] = []
    body = {
        "model": "glm-4.7",
        "messages": COUNT,
        "stream": True,
        "max_tokens": 1500,
        "do_sample": False,
    }

    async def one(client: httpx.AsyncClient, i: int) -> None:
        url = f"{base[i % len(base)]}chat/completions"
        async with client.stream("POST", url, json=body, headers=auth(key)) as r:
            if r.status_code == 200:
                answers.append((200, ""))
            else:
                answers.append((r.status_code, (await r.aread()).decode()))
            if len(answers) == n:
                all_answered.set()
            await all_answered.wait()

    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:
        await asyncio.gather(*(one(client, i) for i in range(n)))
    return answers


def test_a_burst_of_200_on_a_v0_key_runs_exactly_5(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    answers = asyncio.run(_burst([gateway.zai_base], key, 200))
    assert sum(1 for status, _ in answers if status == 200) == 5
    refused = [body for status, body in answers if status == 429]
    assert len(refused) == 195 and all('"code":"1302"' in b for b in refused)
    ledger = gateway.usage(key, settled=200)
    assert (ledger["requests"], ledger["errors"]) == (200, 195)


def _gemma_state(gateway: Gateway) -> dict[str, Any]:
    for _ in range(300):
        state = next(m for m in gateway.health()["models"] if m["model"] == "glm-4.7")
        if state["running"] == 0 and state["waiting"] == 0:
            return state
        time.sleep(0.1)
    raise AssertionError("engine still busy")


def test_ledger_totals_equal_the_usage_clients_received(gateway: Gateway) -> None:
    key = gateway.create_key("V1")
    received = {"prompt_tokens": 0, "completion_tokens": 0}

    def add(usage: dict[str, int]) -> None:
        for field in received:
            received[field] += usage[field]

    for max_tokens in (3, 7):
        add(_chat(gateway, key, max_tokens=max_tokens).json()["usage"])
    client = ZaiClient(api_key=key, base_url=gateway.zai_base)
    stream = client.chat.completions.create(
        model="glm-4.7", messages=HELLO, max_tokens=5, do_sample=False, stream=True
    )
    last = [chunk for chunk in stream][-1]
    add(
        {
            "prompt_tokens": last.usage.prompt_tokens,
            "completion_tokens": last.usage.completion_tokens,
        }
    )
    # A stream the client leaves: it got no usage; the engine says what it generated.
    before = _gemma_state(gateway)
    body = {
        "model": "glm-4.7",
        "messages": COUNT,
        "stream": True,
        "max_tokens": 1500,
        "do_sample": False,
    }
    with (
        httpx.Client(timeout=60) as http,
        http.stream(
            "POST", f"{gateway.zai_base}chat/completions", json=body, headers=auth(key)
        ) as r,
    ):
        for n, _ in enumerate(r.iter_lines()):
            if n == 6:
                break
    after = _gemma_state(gateway)
    tokenized = httpx.post(
        f"{gateway.zai_base}tokenizer",
        json={"model": "glm-4.7", "messages": COUNT},
        headers=auth(key),
        timeout=30,
    ).json()["usage"]["prompt_tokens"]
    add(
        {
            "prompt_tokens": tokenized,
            "completion_tokens": after["generated_tokens"] - before["generated_tokens"],
        }
    )
    assert _code(_chat(gateway, key, max_tokens=10**9)) == (400, "1214")  # recorded too

    ledger = gateway.usage(key, settled=5)
    assert (ledger["requests"], ledger["errors"], ledger["cancelled"]) == (5, 1, 1)
    assert ledger["prompt_tokens"] == received["prompt_tokens"]
    assert ledger["completion_tokens"] == received["completion_tokens"]


def test_a_request_id_in_flight_is_1231(gateway: Gateway) -> None:
    key = gateway.create_key("V1")
    body = {
        "model": "glm-4.7",
        "messages": COUNT,
        "stream": True,
        "max_tokens": 1500,
        "do_sample": False,
        "request_id": "same-id",
    }
    with (
        httpx.Client(timeout=60) as http,
        http.stream(
            "POST", f"{gateway.zai_base}chat/completions", json=body, headers=auth(key)
        ) as r,
    ):
        assert r.status_code == 200
        assert _code(_chat(gateway, key, request_id="same-id")) == (400, "1231")
        assert _chat(gateway, key, request_id="other-id").status_code == 200
    # The first has ended: once its slot is freed (just after its record), the id is free.
    for _ in range(300):  # bounded: about 30 s
        reply = _chat(gateway, key, request_id="same-id")
        if reply.status_code != 400:
            break
        assert reply.json()["error"]["code"] == "1231"
        time.sleep(0.1)
    assert reply.status_code == 200 and reply.json()["request_id"] == "same-id"


@pytest.mark.parametrize("tools", [None, TOOLS])
def test_tokenizer_counts_equal_prompt_tokens(gateway: Gateway, tools: Any) -> None:
    key = gateway.create_key("V1")
    messages = [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is the weather in Paris today?"},
    ]
    extra = {"tools": tools} if tools else {}
    r = httpx.post(
        f"{gateway.zai_base}tokenizer",
        json={"model": "glm-4.7", "messages": messages, "request_id": "tok-1", **extra},
        headers=auth(key),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["request_id"] == "tok-1" and body["id"]
    usage = body["usage"]
    chat = _chat(gateway, key, messages=messages, max_tokens=1, **extra).json()["usage"]
    assert usage["prompt_tokens"] == chat["prompt_tokens"] == usage["total_tokens"]
    assert usage["prompt_tokens"] > 10
    bad = httpx.post(
        f"{gateway.zai_base}tokenizer",
        json={"model": "nope", "messages": messages},
        headers=auth(key),
        timeout=30,
    )
    assert _code(bad) == (400, "1211")


def test_async_chat_with_the_sdk_and_other_keys_get_404(gateway: Gateway) -> None:
    key, other = gateway.create_key("V0"), gateway.create_key("V0")
    client = ZaiClient(api_key=key, base_url=gateway.zai_base)
    task = client.chat.asyncCompletions.create(
        model="glm-4.7", messages=HELLO, max_tokens=4, do_sample=False, request_id="async-1"
    )
    assert task.task_status == "PROCESSING" and task.request_id == "async-1"
    for _ in range(600):  # bounded: about a minute
        result = client.chat.asyncCompletions.retrieve_completion_result(id=task.id)
        if result.task_status != "PROCESSING":
            break
        time.sleep(0.1)
    assert result.task_status == "SUCCESS"
    assert result.usage.completion_tokens == 4 and result.choices[0].message.content
    url = f"{gateway.zai_base}async-result/{task.id}"
    assert _code(httpx.get(url, headers=auth(other), timeout=10)) == (404, "1214")
    missing = f"{gateway.zai_base}async-result/nope"
    assert _code(httpx.get(missing, headers=auth(key), timeout=10)) == (404, "1214")
    ledger = gateway.usage(key, settled=1)
    assert ledger["completion_tokens"] == 4


def test_a_bad_async_request_is_refused_at_once(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    r = httpx.post(
        f"{gateway.zai_base}async/chat/completions",
        json={"model": "nope", "messages": HELLO},
        headers=auth(key),
        timeout=30,
    )
    assert _code(r) == (400, "1211")


def test_anthropic_endpoint_authenticates_and_meters_like_chat(gateway: Gateway) -> None:
    import anthropic

    url = f"{gateway.base}/api/anthropic/v1/messages"
    # The base URL answers Claude Code's probe (HEAD, no key) even when keys are required.
    assert httpx.head(f"{gateway.base}/api/anthropic", timeout=30).status_code == 200
    body = {"model": "claude-sonnet-4-6", "max_tokens": 4, "messages": HELLO}
    missing = httpx.post(url, json=body, timeout=60)
    assert missing.status_code == 401
    assert missing.json()["type"] == "error"
    assert missing.json()["error"]["type"] == "authentication_error"

    key = gateway.create_key("V0")
    client = anthropic.Anthropic(api_key=key, base_url=f"{gateway.base}/api/anthropic")
    message = client.messages.create(**body)  # x-api-key, as the SDK sends it
    assert message.model == "glm-4.7"
    by_bearer = httpx.post(url, json=body, headers=auth(key), timeout=120)
    assert by_bearer.status_code == 200, by_bearer.text
    totals = gateway.usage(key, settled=2)
    assert totals["requests"] == 2 and totals["errors"] == 0
    usage = [message.usage, anthropic.types.Message.model_validate(by_bearer.json()).usage]
    assert totals["completion_tokens"] == sum(u.output_tokens for u in usage)
    assert totals["prompt_tokens"] == sum(
        u.input_tokens + (u.cache_read_input_tokens or 0) for u in usage
    )
