"""A client that goes away mid-stream stops its generation; the engine serves the next."""

from __future__ import annotations

import json
import socket
import time

import httpx

from tests.conftest import Server

COUNT = [{"role": "user", "content": "Count from 1 to 300: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"}]
LONG = 4000


def _gemma(server: Server) -> dict:  # type: ignore[type-arg]
    return next(m for m in server.health()["models"] if m["model"] == "gemma-3-270m")


def _wait_idle(server: Server) -> dict:  # type: ignore[type-arg]
    for _ in range(200):  # bounded: about 20 s at most
        state = _gemma(server)
        if state["running"] == 0 and state["waiting"] == 0:
            return state
        time.sleep(0.1)
    raise AssertionError(f"engine still busy: {state}")


def _disconnect_after(server: Server, chunks: int) -> None:
    body = {
        "model": "gemma-3-270m",
        "messages": COUNT,
        "stream": True,
        "do_sample": False,
        "max_tokens": LONG,
    }
    with (
        httpx.Client(timeout=60) as client,
        client.stream("POST", f"{server.zai_base}chat/completions", json=body) as r,
    ):
        seen = 0
        for line in r.iter_lines():
            if line.startswith("data: "):
                seen += 1
                if seen == chunks:
                    break
    # leaving the blocks closes the connection mid-stream


def test_disconnect_mid_stream_stops_generation(server: Server) -> None:
    before = _wait_idle(server)
    _disconnect_after(server, 5)
    after = _wait_idle(server)
    assert after["cancelled"] == before["cancelled"] + 1
    # It stopped long before its 4000 tokens: within the tokens already in flight.
    generated = after["generated_tokens"] - before["generated_tokens"]
    assert 5 <= generated < 100, generated
    # And the engine is free for the next request, which runs to completion.
    r = httpx.post(
        f"{server.zai_base}chat/completions",
        json={"model": "gemma-3-270m", "messages": COUNT, "do_sample": False, "max_tokens": 6},
        timeout=60,
    )
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] == 6
    assert _wait_idle(server)["finished"] == after["finished"] + 1


def test_disconnect_during_a_non_stream_request_stops_generation(server: Server) -> None:
    before = _wait_idle(server)
    body = json.dumps(
        {"model": "gemma-3-270m", "messages": COUNT, "do_sample": False, "max_tokens": LONG}
    ).encode()
    head = (
        f"POST /api/paas/v4/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head + body)
        for _ in range(200):  # wait (bounded) until the engine is generating for us
            if _gemma(server)["running"] == 1:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("the request never started")
    # the socket is closed: the client went away before the answer
    after = _wait_idle(server)
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["generated_tokens"] - before["generated_tokens"] < LONG
