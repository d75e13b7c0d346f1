"""Restarts and several gateways: tasks and records survive, limits hold across replicas."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port
from tests.platform.gateway import Gateway, auth, write_config
from tests.platform.services import Postgres, Redis
from tests.platform.test_gateway import COUNT, HELLO, _burst

ASYNC_BODY = {"model": "glm-4.7", "messages": HELLO, "max_tokens": 4, "do_sample": False}


def _poll(gateway: Gateway, key: str, task_id: str) -> dict[str, Any]:
    for _ in range(600):  # bounded: about a minute
        r = httpx.get(f"{gateway.zai_base}async-result/{task_id}", headers=auth(key), timeout=10)
        body: dict[str, Any] = r.json()
        if body.get("task_status") != "PROCESSING":
            return body
        time.sleep(0.1)
    raise AssertionError(f"task {task_id} still PROCESSING")


def _cli(config: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "glmserve", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_async_task_and_records_survive_a_restart(tmp_path: Path, gemma_gguf: Path) -> None:
    data = tmp_path / "data"
    # The first gateway runs no task workers: its task can only run after the restart.
    config = write_config(tmp_path / "a.toml", gemma_gguf, data, task_workers=0)
    first = Gateway(config, tmp_path / "a.log")
    try:
        key = first.create_key("V0")
        other = first.create_key("V0")
        submitted = httpx.post(
            f"{first.zai_base}async/chat/completions",
            json=ASYNC_BODY,
            headers=auth(key),
            timeout=30,
        ).json()
        assert submitted["task_status"] == "PROCESSING"
        # A request in flight when the server is told to stop: it finishes (or, past the
        # 30 s grace period of a very loaded machine, is cancelled), and either way its
        # record is written before the process ends.
        answer: dict[str, Any] = {}

        def long_request() -> None:
            body = {"model": "glm-4.7", "messages": COUNT, "max_tokens": 200, "do_sample": False}
            r = httpx.post(
                f"{first.zai_base}chat/completions", json=body, headers=auth(key), timeout=240
            )
            answer.update({"status": r.status_code, "text": r.text})

        client = threading.Thread(target=long_request)
        client.start()
        for _ in range(1200):  # bounded: until the engine is generating for it
            if any(m["running"] for m in first.health()["models"]):
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the request never started")
        first.proc.terminate()  # SIGTERM: graceful; a loaded machine may take a while
        first.proc.wait(240)
        client.join(240)
        assert "Waiting for connections to close" in first.output()  # it was in flight
    finally:
        first.stop()
    # With the server gone, the CLI reads the same database.
    rows = json.loads(_cli(config, "usage", "--json"))
    mine = [r for r in rows if r["key_id"] == key.split(".")[0]]
    assert sum(r["requests"] for r in mine) == 1  # the chat request; the task has not run
    if answer["status"] == 200:
        received = json.loads(answer["text"])["usage"]["completion_tokens"]
        assert received > 0 and sum(r["completion_tokens"] for r in mine) == received
    else:  # cut off by the grace period: recorded as cancelled
        assert sum(r["cancelled"] for r in mine) == 1, answer

    second = Gateway(write_config(tmp_path / "b.toml", gemma_gguf, data), tmp_path / "b.log")
    try:
        assert "created the first API key" in first.output()
        assert "created the first API key" not in second.output()  # shown once only
        done = _poll(second, key, submitted["id"])
        assert done["task_status"] == "SUCCESS", done
        assert done["usage"]["completion_tokens"] == 4 and done["request_id"] == submitted["id"]
        r = httpx.get(
            f"{second.zai_base}async-result/{submitted['id']}", headers=auth(other), timeout=10
        )
        assert r.status_code == 404
    finally:
        second.stop()


def test_keys_cli(tmp_path: Path, gemma_gguf: Path) -> None:
    config = write_config(tmp_path / "c.toml", gemma_gguf, tmp_path / "data")
    created = _cli(config, "keys", "create", "--name", "ci", "--tier", "V2", "--balance", "3")
    api_key = created.split("store it now): ")[1].strip()
    key_id = api_key.split(".")[0]
    listed = _cli(config, "keys", "list")
    assert key_id in listed and "3.000000000" in listed and api_key.split(".")[1] not in listed
    assert "4.500000000" in _cli(config, "keys", "top-up", key_id, "--amount", "1.5")
    assert "revoked" in _cli(config, "keys", "revoke", key_id)
    bad = subprocess.run(
        [sys.executable, "-m", "glmserve", "keys", "revoke", "nope", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 1 and "does not exist" in bad.stderr


def test_two_gateways_sharing_postgres_and_redis(
    tmp_path: Path, gemma_gguf: Path, postgres: Postgres, redis_server: Redis
) -> None:
    redis_server.flush()
    url = postgres.new_database("replicas")
    gateways = []
    try:
        for name in ("a", "b"):
            config = write_config(
                tmp_path / f"{name}.toml",
                gemma_gguf,
                tmp_path / f"data-{name}",
                database_url=url,
                redis_url=redis_server.url,
            )
            gateways.append(Gateway(config, tmp_path / f"{name}.log"))
        a, b = gateways
        key = a.create_key("V0")  # made on one, valid on both
        answers = asyncio.run(_burst([a.zai_base, b.zai_base], key, 200))
        assert sum(1 for status, _ in answers if status == 200) == 5
        assert sum(1 for status, body in answers if '"1302"' in body) == 195
        ledger = b.usage(key, settled=200)  # one ledger for both
        assert (ledger["requests"], ledger["errors"]) == (200, 195)
        # A task submitted to one gateway is read from the other.
        task = httpx.post(
            f"{a.zai_base}async/chat/completions", json=ASYNC_BODY, headers=auth(key), timeout=30
        ).json()
        assert _poll(b, key, task["id"])["task_status"] == "SUCCESS"
    finally:
        for gateway in gateways:
            gateway.stop()


def test_unusable_storage_is_a_clear_start_up_error(tmp_path: Path, gemma_gguf: Path) -> None:
    for extra, message in (
        ('database_url = "mysql://db/x"', "only sqlite:/// and postgresql://"),
        (f'redis_url = "redis://127.0.0.1:{free_port()}/0"', "cannot reach Redis"),
    ):
        config = tmp_path / "bad.toml"
        write_config(config, gemma_gguf, tmp_path / "data")
        config.write_text(config.read_text().replace("[platform]", f"[platform]\n{extra}"))
        result = subprocess.run(
            [sys.executable, "-m", "glmserve", "serve", "--config", str(config)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
