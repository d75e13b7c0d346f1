"""The fetch policy for media URLs (serving/media/fetch.py), against real sockets."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from glmserve.serving.media.fetch import FetchError, FetchPolicy, address_allowed, fetch_url

IMAGE = ("image/",)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    ],
)  # fmt: skip
def test_non_public_addresses_are_not_allowed(address: str) -> None:
    assert not address_allowed(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
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


@pytest.fixture(scope="module")
def local() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://localhost:{httpd.server_address[1]}"
    httpd.shutdown()


def test_a_name_that_resolves_to_loopback_is_refused(local: str) -> None:
    with pytest.raises(FetchError, match="non-public address"):
        fetch_url(f"{local}/a.png", FetchPolicy(5, 1000), IMAGE)


def test_allowed_by_the_operator_it_is_fetched(local: str) -> None:
    got = fetch_url(f"{local}/a.png", FetchPolicy(5, 1000, allow_private=True), IMAGE)
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
