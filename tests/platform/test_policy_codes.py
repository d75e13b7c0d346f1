"""The policy codes through HTTP on a real server with keys: an API turned off in the
config (1221), a key limited to some APIs (1220), a blocked end user (1300) and the
server-wide rate limit (1305)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from glmserve.api.deps import api_name
from glmserve.config.apis import API_NAMES
from tests.platform.gateway import Gateway, auth, write_config
from tests.support.scripted_glm import Script, build_scripted_glm

CHAT = {"model": "glm-4.7", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}


def _start(tmp: Path, extra: str) -> Gateway:
    gguf = build_scripted_glm(tmp / "glm.gguf", [Script("Ok.</think>Done.<|user|>")]).path
    return Gateway(
        write_config(tmp / "glmserve.toml", gguf, tmp / "data", extra=extra), tmp / "log"
    )


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    extra = '[apis]\ndisabled = ["rerank"]\n[limits]\nblocked_user_ids = ["mallory"]\n'
    server = _start(tmp_path_factory.mktemp("policy"), extra)
    yield server
    server.stop()


def _post(gateway: Gateway, path: str, key: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{gateway.base}{path}", json=body, headers=auth(key), timeout=60)


def _error(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def test_an_api_turned_off_is_1221(gateway: Gateway) -> None:
    key = gateway.create_key()
    r = _post(gateway, "/api/paas/v4/rerank", key, {"model": "rerank", "query": "q",
                                                     "documents": ["a"]})  # fmt: skip
    assert _error(r) == (404, "1221")
    assert "API rerank has been taken offline" in r.json()["error"]["message"]
    assert _post(gateway, "/api/paas/v4/chat/completions", key, CHAT).status_code == 200


def test_a_key_limited_to_some_apis_gets_1220_elsewhere(gateway: Gateway) -> None:
    key = gateway.create_key()
    key_id = key.split(".")[0]
    r = gateway.admin("POST", f"/keys/{key_id}/apis", json={"apis": ["coding", "anthropic"]})
    assert r.status_code == 200 and r.json()["apis"] == ["coding", "anthropic"]
    assert _post(gateway, "/api/coding/paas/v4/chat/completions", key, CHAT).status_code == 200
    general = _post(gateway, "/api/paas/v4/chat/completions", key, CHAT)
    assert _error(general) == (403, "1220")
    assert "You do not have permission to access chat" in general.json()["error"]["message"]
    embeddings = _post(gateway, "/v1/embeddings", key, {"model": "embedding-3", "input": "x"})
    assert _error(embeddings) == (403, "1220")
    files = httpx.get(f"{gateway.zai_base}files", headers=auth(key), timeout=30)
    assert _error(files) == (403, "1220")
    bad = gateway.admin("POST", f"/keys/{key_id}/apis", json={"apis": ["everything"]})
    assert _error(bad) == (400, "1214")
    assert gateway.admin("POST", f"/keys/{key_id}/apis", json={"apis": None}).status_code == 200
    assert _post(gateway, "/api/paas/v4/chat/completions", key, CHAT).status_code == 200


def test_a_blocked_end_user_is_1300(gateway: Gateway) -> None:
    key = gateway.create_key()
    r = _post(gateway, "/api/paas/v4/chat/completions", key, {**CHAT, "user_id": "mallory"})
    assert _error(r) == (403, "1300")
    ok = _post(gateway, "/api/paas/v4/chat/completions", key, {**CHAT, "user_id": "alice"})
    assert ok.status_code == 200


def test_the_server_wide_rate_limit_is_1305(tmp_path: Path) -> None:
    server = _start(tmp_path, "[limits]\nglobal_rpm = 3\n")
    try:
        keys = [server.create_key("V3"), server.create_key("V3")]
        for _ in range(5):  # a minute may turn during the burst: then try again
            minute = int(time.time() // 60)
            answers = [
                _post(server, "/api/paas/v4/chat/completions", keys[i % 2], CHAT) for i in range(5)
            ]
            if int(time.time() // 60) == minute:
                break
            time.sleep(max(0.0, 60 - time.time() % 60) + 0.1)  # the next, whole minute
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert _error(answers[3]) == (429, "1305")  # the other key is refused too
        assert _error(answers[4]) == (429, "1305")
    finally:
        server.stop()


def test_each_path_belongs_to_one_api() -> None:
    names = {
        "/api/paas/v4/chat/completions": "chat",
        "/v1/chat/completions": "chat",
        "/api/coding/paas/v4/chat/completions": "coding",
        "/api/anthropic/v1/messages": "anthropic",
        "/api/paas/v4/async/chat/completions": "async",
        "/api/paas/v4/async-result/abc": "async",
        "/api/paas/v4/tokenizer": "tokenizer",
        "/v1/embeddings": "embeddings",
        "/api/paas/v4/rerank": "rerank",
        "/api/paas/v4/moderations": "moderations",
        "/api/paas/v4/files/f1/content": "files",
        "/v1/batches/b1/cancel": "batches",
        "/api/v1/agents": "agents",
        "/api/paas/v4/v1/agents/async-result": "agents",
    }
    assert {path: api_name(path) for path in names} == names
    assert set(names.values()) == set(API_NAMES)


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "glmserve", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


def test_keys_create_plan_and_its_windows_from_the_cli(gateway: Gateway, tmp_path: Path) -> None:
    # the CLI reads the server's database, port and admin key from the same config
    config = gateway.log.parent / "glmserve.toml"
    cli_config = tmp_path / "cli.toml"
    cli_config.write_text(
        config.read_text().replace("[server]", f"[server]\nport = {gateway.port}")
    )
    made = _cli(
        cli_config, "keys", "create", "--name", "dev", "--plan", "lite", "--plan-days", "30"
    )
    assert made.returncode == 0, made.stderr
    assert "on plan lite for 30 days" in made.stdout
    key = made.stdout.split("store it now): ")[1].split()[0]
    coding = _post(gateway, "/api/coding/paas/v4/chat/completions", key, CHAT)
    assert coding.status_code == 200, coding.text
    shown = _cli(cli_config, "keys", "plan", key.split(".")[0])
    assert shown.returncode == 0, shown.stderr
    assert "plan lite until" in shown.stdout
    assert "five_hour  1 / 80, next prompt leaves" in shown.stdout
    assert "week       1 / 400" in shown.stdout
    off = _cli(cli_config, "keys", "plan", key.split(".")[0], "--set", "none")
    assert off.returncode == 0 and "plan" not in off.stdout.split("active", 1)[1]
