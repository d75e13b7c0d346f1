"""Media fetches against a server that drips its answer a byte at a time: the fetch ends
at its deadline (the whole fetch, not each read), and while fetches hang the rest of the
server keeps answering (they run on threads of their own)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.conftest import ADMIN_KEY
from tests.support.tiny_vision import build

MODEL = "glm-4.6v"
DEADLINE = 3
DRIP_SECONDS = 90.0
"""The longest a drip lasts (it stops earlier when released): far past any deadline."""


class _Drip(BaseHTTPRequestHandler):
    """200 image/png without a length, then a byte every 0.2 s."""

    protocol_version = "HTTP/1.1"
    lock = threading.Lock()
    open_now: ClassVar[int] = 0
    cut: ClassVar[int] = 0
    """Drips that ended because the client went away."""
    release: ClassVar[threading.Event] = threading.Event()

    def do_GET(self) -> None:
        self.close_connection = True  # the body ends when the connection does
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        with _Drip.lock:
            _Drip.open_now += 1
        try:
            end = time.monotonic() + DRIP_SECONDS
            while time.monotonic() < end and not _Drip.release.is_set():
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            with _Drip.lock:
                _Drip.cut += 1
        finally:
            with _Drip.lock:
                _Drip.open_now -= 1

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def drip() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Drip)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/slow.png"
    _Drip.release.set()
    httpd.shutdown()


def _start(tmp: Path, deadline: float) -> Server:
    model, mmproj = build(tmp / "model")
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nopen = true\nadmin_key = "{ADMIN_KEY}"\ndata_dir = "{tmp / "data"}"\n\n'
        f"[media]\nallow_private_urls = true\nfetch_timeout_seconds = {deadline}\n\n"
        f'[[models]]\ncode = "{MODEL}"\ngguf = "{model}"\nmmproj = "{mmproj}"\n'
        "context_size = 1024\nmax_running = 2\n\n"
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{model}"\ncontext_size = 512\nmax_running = 2\n'
    )
    return Server(config, tmp / "server.log", admin_key=ADMIN_KEY)


def _chat(server: Server, url: str) -> httpx.Response:
    content = [{"type": "image_url", "image_url": {"url": url}}, {"type": "text", "text": "?"}]
    body = {"model": MODEL, "messages": [{"role": "user", "content": content}], "max_tokens": 4}
    return httpx.post(f"{server.zai_base}chat/completions", json=body, timeout=180)


def _wait(condition: Any, what: str) -> None:
    end = time.monotonic() + 120
    while not condition():
        assert time.monotonic() < end, f"never: {what}"
        time.sleep(0.05)


def test_a_dripping_fetch_ends_at_its_deadline(
    tmp_path_factory: pytest.TempPathFactory, drip: str
) -> None:
    server = _start(tmp_path_factory.mktemp("fetch-deadline"), DEADLINE)
    try:
        cut_before = _Drip.cut
        r = _chat(server, drip)
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "1214"
        assert f"did not arrive within {DEADLINE} seconds" in error["message"], error
        assert "image_url.url" in error["message"]
        # The fetch let go of the connection while the drip was still going.
        _wait(lambda: _Drip.cut > cut_before, "the drip saw its client leave")
    finally:
        server.stop()


def test_hanging_fetches_do_not_stop_the_rest_of_the_server(
    tmp_path_factory: pytest.TempPathFactory, drip: str
) -> None:
    """Eight chats whose images never finish arriving (their deadline is far away) hold
    fetch threads; meanwhile files, admin, health, async tasks and another chat answer."""
    server = _start(tmp_path_factory.mktemp("fetch-starve"), 300)
    _Drip.release.clear()
    pool = ThreadPoolExecutor(8)
    try:
        hanging = [pool.submit(_chat, server, drip) for _ in range(8)]
        _wait(lambda: _Drip.open_now >= 8, "eight fetches dripping")
        files = httpx.get(f"{server.zai_base}files", timeout=60)
        assert files.status_code == 200, files.text
        keys = httpx.get(
            f"{server.base}/admin/keys",
            headers={"Authorization": f"Bearer {ADMIN_KEY}"},
            timeout=60,
        )
        assert keys.status_code == 200, keys.text
        assert httpx.get(f"{server.base}/health", timeout=60).status_code == 200
        text = {
            "model": "glm-4.7",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": 2,
        }
        chat = httpx.post(f"{server.zai_base}chat/completions", json=text, timeout=60)
        assert chat.status_code == 200, chat.text
        task = httpx.post(f"{server.zai_base}async/chat/completions", json=text, timeout=60)
        assert task.status_code == 200, task.text
        # All that while every dripping fetch was still held (none had answered).
        assert _Drip.open_now >= 8 and not any(f.done() for f in hanging)
        _Drip.release.set()
        for future in hanging:  # the drips end: not an image
            assert future.result().status_code == 400
    finally:
        _Drip.release.set()
        pool.shutdown(wait=True)
        server.stop()
