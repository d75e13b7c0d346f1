"""Slow or stalled clients cannot hold the server. Connections that send
nothing, part of their headers, or headers and no body are closed within the
configured timeouts while normal requests are answered; one address cannot open more
than ``max_connections_per_client`` connections."""

from __future__ import annotations

import socket
import time
from typing import Any

import httpx

from tests.conftest import Server
from tests.e2e.conftest import HARDENED_LIMITS

CHAT = "/api/paas/v4/chat/completions"
HEADERS_BY = HARDENED_LIMITS["header_timeout_seconds"]
BODY_BY = HARDENED_LIMITS["body_timeout_seconds"]
CAP = HARDENED_LIMITS["max_connections_per_client"]
SLACK = 30.0
"""Room past a deadline for a loaded machine: the test shows the connection is closed,
not how fast (a stalled connection is never closed without the deadline)."""
STALLED = {
    "nothing": b"",
    "part of the request line": b"POST /api/paas/v4/chat/com",
    "part of the headers": b"POST " + CHAT.encode() + b" HTTP/1.1\r\nhost: x\r\ncontent-ty",
    "headers, no body": (
        b"POST " + CHAT.encode() + b" HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 100\r\n\r\n"
    ),
    "headers, part of the body": (
        b"POST " + CHAT.encode() + b" HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b'content-length: 100\r\n\r\n{"model": '
    ),
}


def _connect(server: Server, data: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall(data)
    return sock


def _closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Read until the server closes; False if it is still open after ``seconds``."""
    sock.settimeout(seconds)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return False, received
    except ConnectionResetError:
        pass
    return True, received


def test_stalled_connections_are_closed_while_others_are_served(hardened: Server) -> None:
    stalled = {name: [_connect(hardened, data) for _ in range(3)] for name, data in STALLED.items()}
    try:
        hi = [{"role": "user", "content": "hi"}]
        body: dict[str, Any] = {"model": "gemma-3-270m", "messages": hi}
        response = httpx.post(hardened.base + CHAT, json=body, timeout=60)
        assert response.status_code == 200
        # the deadline is the configured one (plus room for a loaded machine)
        wait = max(HEADERS_BY, BODY_BY) + SLACK
        for name, socks in stalled.items():
            for sock in socks:
                closed, received = _closed_within(sock, wait)
                assert closed, f"{name}: still open"
                if name.startswith("headers"):
                    assert received.startswith(b"HTTP/1.1 408 "), received
                    assert b'"code":"1210"' in received
                else:
                    assert received == b"", received
    finally:
        for socks in stalled.values():
            for sock in socks:
                sock.close()


def test_an_idle_keep_alive_connection_is_closed(hardened: Server) -> None:
    sock = _connect(hardened, b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
    try:
        closed, received = _closed_within(sock, 30)
        assert closed and received.startswith(b"HTTP/1.1 200 ")
    finally:
        sock.close()


def test_a_slow_trickle_of_headers_is_cut_at_the_deadline(hardened: Server) -> None:
    """A byte now and then resets no clock: the headers have one deadline."""
    sock = _connect(hardened, b"GET /health HTTP/1.1\r\n")
    started = time.monotonic()
    try:
        sock.settimeout(0.5)
        for _ in range(int((HEADERS_BY + SLACK) / 0.5)):
            try:
                sock.sendall(b"x")
                if sock.recv(1) == b"":
                    break
            except TimeoutError:
                continue
            except OSError:
                break
        else:
            raise AssertionError("the trickling connection was never closed")
        assert time.monotonic() - started >= HEADERS_BY
    finally:
        sock.close()


def test_one_address_cannot_hold_more_than_the_cap(hardened: Server) -> None:
    socks = [_connect(hardened, b"") for _ in range(CAP + 3)]
    try:
        refused = []
        for sock in socks[CAP:]:
            closed, received = _closed_within(sock, 10)
            refused.append(closed and received.startswith(b"HTTP/1.1 429 "))
        assert all(refused)
        for sock in socks[:CAP]:
            sock.close()
        time.sleep(0.5)  # the server sees them go
        response = httpx.get(hardened.base + "/health", timeout=30)
        assert response.status_code == 200
    finally:
        for sock in socks:
            sock.close()
