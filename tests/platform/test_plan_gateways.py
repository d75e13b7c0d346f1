"""Coding Plan quotas through HTTP: Claude Code-shaped requests to two gateways that
share PostgreSQL and Redis stop at exactly the plan's quota with 1308, a tool loop's
follow-ups are not counted, and the admin API shows the windows; the account and plan
codes (1110, 1112, 1121, 1309, 1311, 1313) reach the client on the plan surfaces."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.platform.gateway import Gateway, auth, write_config
from tests.platform.services import Postgres, Redis
from tests.support.scripted_glm import Script, build_scripted_glm

QUOTA = 4
PLANS = (
    f'[[plans]]\nname = "team"\nprompts_per_5h = {QUOTA}\nprompts_per_week = 100\n'
    'models = ["glm-4.7"]\n\n'
)
TOOLS = [
    {
        "name": "Bash",
        "description": "Run a command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}},
    }
]
SYSTEM = [{"type": "text", "text": "You are Claude Code, Anthropic's official CLI for Claude."}]


def _prompt(text: str) -> dict[str, Any]:
    """A new user turn, as Claude Code sends it."""
    return {
        "model": "claude-sonnet-4-5",
        "max_tokens": 64,
        "system": SYSTEM,
        "tools": TOOLS,
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
    }


def _follow_up() -> dict[str, Any]:
    """The next request of a tool loop: the tool's result (with a reminder text beside
    it, as Claude Code adds)."""
    body = _prompt("list the files")
    body["messages"] += [
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"},
                {"type": "text", "text": "<system-reminder>keep going</system-reminder>"},
            ],
        },
    ]
    return body


@pytest.fixture(scope="module")
def gateways(
    tmp_path_factory: pytest.TempPathFactory, postgres: Postgres, redis_server: Redis
) -> Iterator[tuple[Gateway, Gateway]]:
    tmp = tmp_path_factory.mktemp("plans")
    redis_server.flush()
    gguf = build_scripted_glm(tmp / "glm.gguf", [Script("Ok.</think>Done.<|user|>")]).path
    url = postgres.new_database("plans")
    extra = PLANS + f'[[models]]\ncode = "glm-4.5-air"\ngguf = "{gguf}"\ncontext_size = 1024\n'
    started: list[Gateway] = []
    try:
        for name in ("a", "b"):
            config = write_config(
                tmp / f"{name}.toml",
                gguf,
                tmp / f"data-{name}",
                database_url=url,
                redis_url=redis_server.url,
                extra=extra,
            )
            started.append(Gateway(config, tmp / f"{name}.log"))
        yield started[0], started[1]
    finally:
        for gateway in started:
            gateway.stop()


def _plan_key(gateway: Gateway, **plan: Any) -> str:
    key = gateway.create_key("V3")
    body = {"plan": "team", **plan}
    r = gateway.admin("POST", f"/keys/{key.split('.')[0]}/plan", json=body)
    assert r.status_code == 200 and r.json()["plan"] == "team", r.text
    return key


def _messages(gateway: Gateway, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(
        f"{gateway.base}/api/anthropic/v1/messages", json=body, headers=auth(key), timeout=60
    )


async def _burst(bases: list[str], key: str, n: int) -> list[tuple[int, str]]:
    async with httpx.AsyncClient(timeout=120) as client:

        async def one(i: int) -> tuple[int, str]:
            url = f"{bases[i % len(bases)]}/api/anthropic/v1/messages"
            r = await client.post(url, json=_prompt(f"task {i}"), headers=auth(key))
            return r.status_code, r.text

        return await asyncio.gather(*(one(i) for i in range(n)))


def test_a_burst_across_two_gateways_stops_at_the_quota(
    gateways: tuple[Gateway, Gateway],
) -> None:
    a, b = gateways
    key = _plan_key(a)
    started = time.time()
    answers = asyncio.run(_burst([a.base, b.base], key, 3 * QUOTA))
    assert sum(status == 200 for status, _ in answers) == QUOTA
    refused = [text for status, text in answers if status == 429]
    assert len(refused) == 2 * QUOTA
    assert all("Usage limit reached for team. Your limit will reset at" in t for t in refused)
    # a tool loop's follow-up is not a new prompt: it runs, and is not counted
    assert _messages(b, key, _follow_up()).status_code == 200
    # the coding endpoint counts too; the general endpoint is not a plan surface
    chat = {"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}]}
    coding = httpx.post(f"{a.base}/api/coding/paas/v4/chat/completions", json=chat,
                        headers=auth(key), timeout=60)  # fmt: skip
    assert coding.status_code == 429 and coding.json()["error"]["code"] == "1308"
    general = httpx.post(f"{a.zai_base}chat/completions", json=chat, headers=auth(key), timeout=60)
    assert general.status_code == 200
    usage = b.admin("GET", f"/keys/{key.split('.')[0]}/plan").json()
    five = usage["windows"]["five_hour"]
    assert (usage["plan"], five["used"], five["limit"]) == ("team", QUOTA, QUOTA)
    assert usage["windows"]["week"]["used"] == QUOTA
    flush = five["next_flush_time"]
    assert started + 5 * 3600 - 1 <= flush <= time.time() + 5 * 3600


def _coding(gateway: Gateway, key: str, model: str = "glm-4.7") -> httpx.Response:
    chat = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
    url = f"{gateway.base}/api/coding/paas/v4/chat/completions"
    return httpx.post(url, json=chat, headers=auth(key), timeout=60)


def test_account_and_plan_codes_through_http(gateways: tuple[Gateway, Gateway]) -> None:
    a, _ = gateways
    key = _plan_key(a)
    r = _coding(a, key, "glm-4.5-air")
    assert r.status_code == 403 and r.json()["error"]["code"] == "1311"
    r = _messages(a, key, {**_prompt("hello"), "model": "glm-4.5-air"})  # Anthropic's shape
    assert r.status_code == 403 and "does not yet include access to glm-4.5-air" in r.text
    expired = _plan_key(a, expires_at=int(time.time()) - 1)
    r = _coding(a, expired)
    assert r.status_code == 403 and r.json()["error"]["code"] == "1309"
    key_id = key.split(".")[0]
    for status, code, http in (
        ("restricted", "1313", 429),
        ("inactive", "1110", 429),
        ("locked", "1112", 429),
        ("suspended", "1121", 429),
    ):
        assert a.admin("POST", f"/keys/{key_id}/status", json={"status": status}).status_code == 200
        r = _coding(a, key)
        assert r.status_code == http and r.json()["error"]["code"] == code, (status, r.text)
        z = httpx.post(
            f"{a.zai_base}chat/completions",
            json={"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}]},
            headers=auth(key),
            timeout=60,
        )
        # restricted limits the plan surfaces only; the others hold the key everywhere
        assert z.status_code == (200 if status == "restricted" else http), (status, z.text)
    assert a.admin("POST", f"/keys/{key_id}/status", json={"status": "active"}).status_code == 200
    assert _messages(a, key, _prompt("hello")).status_code == 200
    bad = a.admin("POST", f"/keys/{key_id}/status", json={"status": "gone"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "1214"
