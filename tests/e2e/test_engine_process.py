"""The engine runs in a worker process: a crash fails only the requests in flight, the
worker restarts by itself, and a full queue answers 429 / 1312."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from typing import Any

import httpx
import pytest

from tests.conftest import Server

COUNT = [{"role": "user", "content": "Count from 1 to 300: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"}]


def _state(server: Server, model: str) -> dict[str, Any]:
    return next(m for m in server.health()["models"] if m["model"] == model)


def _wait(server: Server, model: str, ready: Any) -> dict[str, Any]:
    for _ in range(300):  # bounded: about 30 s
        state = _state(server, model)
        if ready(state):
            return state
        time.sleep(0.1)
    raise AssertionError(f"{model} never reached the state: {state}")


def test_killing_the_engine_process_mid_stream(server: Server) -> None:
    before = _wait(server, "crash-test", lambda s: s["running"] == 0)
    body = {
        "model": "crash-test",
        "messages": COUNT,
        "stream": True,
        "do_sample": False,
        "max_tokens": 400,
    }
    finish = None
    seen = 0
    with httpx.stream("POST", f"{server.zai_base}chat/completions", json=body, timeout=60) as r:
        for line in r.iter_lines():
            if not line.startswith("data: {"):
                continue
            seen += 1
            if seen == 3:
                os.kill(before["pid"], signal.SIGKILL)
            if '"finish_reason"' in line:
                finish = line
    assert finish is not None and '"finish_reason":"network_error"' in finish
    assert server.proc.poll() is None  # the HTTP process never went down
    after = _wait(server, "crash-test", lambda s: s["restarts"] == before["restarts"] + 1)
    assert after["pid"] != before["pid"]
    r = httpx.post(
        f"{server.zai_base}chat/completions",
        json={"model": "crash-test", "messages": COUNT, "do_sample": False, "max_tokens": 4},
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 4


def test_killing_the_engine_during_a_non_stream_request_gives_1234(server: Server) -> None:
    state = _wait(server, "crash-test", lambda s: s["running"] == 0 and s["pid"])
    body = {"model": "crash-test", "messages": COUNT, "do_sample": False, "max_tokens": 400}
    result: dict[str, httpx.Response] = {}
    thread = threading.Thread(
        target=lambda: result.update(
            r=httpx.post(f"{server.zai_base}chat/completions", json=body, timeout=60)
        )
    )
    thread.start()
    _wait(server, "crash-test", lambda s: s["running"] == 1)
    os.kill(state["pid"], signal.SIGKILL)
    thread.join(60)
    r = result["r"]
    assert r.status_code == 500 and r.json()["error"]["code"] == "1234"
    _wait(server, "crash-test", lambda s: s["restarts"] == state["restarts"] + 1)


def test_a_crash_is_logged_against_the_requests_it_ran(server: Server) -> None:
    """The log names the requests in flight when the engine died (the one started last
    first), and says how long the restart waits (a backoff: docs/limits.md)."""
    for culprit in ("crash-culprit-1", "crash-culprit-2"):
        state = _wait(server, "crash-test", lambda s: s["running"] == 0 and s["pid"])
        body = {
            "model": "crash-test",
            "messages": COUNT,
            "do_sample": False,
            "max_tokens": 400,
            "request_id": culprit,
        }
        result: dict[str, httpx.Response] = {}
        thread = threading.Thread(
            target=lambda b=body, out=result: out.update(
                r=httpx.post(f"{server.zai_base}chat/completions", json=b, timeout=120)
            )
        )
        thread.start()
        _wait(server, "crash-test", lambda s: s["running"] == 1)
        os.kill(state["pid"], signal.SIGKILL)
        thread.join(120)
        assert result["r"].json()["error"]["code"] == "1234"
        _wait(server, "crash-test", lambda s, n=state["restarts"]: s["restarts"] == n + 1)
        died = [line for line in server.output().splitlines() if f"running {culprit} " in line]
        assert len(died) == 1, died
        assert "the engine process died (exit code -9)" in died[0]
        assert re.search(r"restarting it in \d+\.\d s", died[0]), died[0]


@pytest.mark.parametrize("stream", [False, True])
def test_full_queue_gives_1312_and_the_server_keeps_serving(server: Server, stream: bool) -> None:
    long = {
        "model": "tiny-queue",
        "messages": COUNT,
        "do_sample": False,
        "max_tokens": 300,
        "stream": True,
    }
    with httpx.stream("POST", f"{server.zai_base}chat/completions", json=long, timeout=60) as r:
        lines = r.iter_lines()  # keep the stream open while the second request comes
        next(line for line in lines if line.startswith("data: {"))  # it is running
        extra = {"model": "tiny-queue", "messages": COUNT, "max_tokens": 2, "stream": stream}
        refused = httpx.post(f"{server.zai_base}chat/completions", json=extra, timeout=60)
        assert refused.status_code == 429, refused.text[:200]
        assert refused.json()["error"]["code"] == "1312"
    # the long stream is gone (cancelled on disconnect): the model serves again
    _wait(server, "tiny-queue", lambda s: s["running"] == 0)
    ok = httpx.post(
        f"{server.zai_base}chat/completions",
        json={"model": "tiny-queue", "messages": COUNT, "max_tokens": 2},
        timeout=60,
    )
    assert ok.status_code == 200
