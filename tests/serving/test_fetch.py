"""The fetch policy for media URLs (serving/media/fetch.py), against real sockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from glmserve.serving.media.fetch import (
    Fetched,
    Fetcher,
    FetchError,
    FetchPolicy,
    address_allowed,
)

IMAGE = ("image/",)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
        # IPv6 forms that carry a private IPv4 address: IPv4-compatible, SIIT, NAT64
        # (well-known and local-use prefixes), 6to4, Teredo
        "::127.0.0.1", "::10.0.0.1", "::ffff:0:10.0.0.1", "::ffff:0:169.254.169.254",
        "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe", "64:ff9b:1:7f00:0:100::",
        "64:ff9b:1::10.0.0.1", "2002:7f00:1::", "2002:a9fe:a9fe::1", "2002:c0a8:101::",
        "2001:0:4136:e378:8000:63bf:80ff:fefe",
    ],
)  # fmt: skip
def test_non_public_addresses_are_not_allowed(address: str) -> None:
    assert not address_allowed(address)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "64:ff9b::8.8.8.8", "2002:808:808::1"],
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_allowed(address)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.end_headers()
            return
        body = b"x" * (5000 if self.path == "/big" else 10)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        if self.path != "/big":  # no length: the cap must hold while reading
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def fetch_url(url: str, policy: FetchPolicy, accept: tuple[str, ...]) -> object:
    with_threads = Fetcher()
    try:
        return with_threads.fetch(url, policy, accept)
    finally:
        with_threads.close()


@pytest.fixture(scope="module")
def local() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://localhost:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_name_that_resolves_to_loopback_is_refused(local: str) -> None:
    with pytest.raises(FetchError, match="non-public address") as refused:
        fetch_url(f"{local}/a.png", FetchPolicy(5, 1000), IMAGE)
    # The answer names the host, never what it resolved to.
    assert "127.0.0.1" not in str(refused.value) and "::1" not in str(refused.value)


def test_allowed_by_the_operator_it_is_fetched(local: str) -> None:
    got = fetch_url(f"{local}/a.png", FetchPolicy(5, 1000, allow_private=True), IMAGE)
    assert isinstance(got, Fetched)
    assert got.data == b"x" * 10 and got.content_type == "image/png"


def test_the_size_cap_holds_without_a_content_length(local: str) -> None:
    with pytest.raises(FetchError, match="larger than 1000 bytes"):
        fetch_url(f"{local}/big", FetchPolicy(5, 1000, allow_private=True), IMAGE)


def test_redirect_loops_end(local: str) -> None:
    with pytest.raises(FetchError, match="redirects"):
        fetch_url(f"{local}/loop", FetchPolicy(5, 1000, 2, allow_private=True), IMAGE)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/a.png", "http:///x"])
def test_only_http_urls(url: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        fetch_url(url, FetchPolicy(5, 1000), IMAGE)


def test_wrong_content_type(local: str) -> None:
    with pytest.raises(FetchError, match="not video/"):
        fetch_url(f"{local}/a.png", FetchPolicy(5, 1000, allow_private=True), ("video/",))


def test_a_lookup_that_hangs_ends_at_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    """``getaddrinfo`` has no timeout: a resolver that never answers must not hold the
    fetch past its deadline (the lookup is left to its own thread, released after)."""
    release = threading.Event()
    real = socket.getaddrinfo

    def hanging(*args: Any, **kwargs: Any) -> Any:
        release.wait(60)  # bounded: the test releases it at the end
        return real(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    fetcher = Fetcher()
    try:
        with pytest.raises(FetchError, match="did not arrive within 1 seconds"):
            fetcher.fetch("http://example.invalid/a.png", FetchPolicy(1, 1000), IMAGE)
    finally:
        release.set()
        fetcher.close()


def test_a_dripping_body_ends_at_the_deadline(drip: str) -> None:
    with pytest.raises(FetchError, match="did not arrive within 1 seconds"):
        fetch_url(drip, FetchPolicy(1, 10**6, allow_private=True), IMAGE)


class _Drip(BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        try:
            for _ in range(300):  # at most about 60 s
                if _Drip.release.is_set():
                    return
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def drip() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/slow.png"
    _Drip.release.set()
    httpd.shutdown()
