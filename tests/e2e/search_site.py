"""Pages for the web reader's tests, served on 127.0.0.1: an article with navigation, a
table, code and a footer; a PDF; a redirect; a page too large; a slow page; JSON."""

from __future__ import annotations

import contextlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

from tests.search.corpus import KESTREL_HTML
from tests.support.pdf import text_pdf

BIG_BYTES = 300_000
SLOW_SECONDS = 8.0


class _Pages(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[str, bytes]]] = {
        "/article.html": ("text/html; charset=utf-8", KESTREL_HTML.encode()),
        "/guide.pdf": (
            "application/pdf",
            text_pdf(
                ["Heron migration", "Grey herons migrate south along the estuary."],
                title="Heron field guide",
                created="D:20260315000000",
            ),
        ),
        "/big.html": (
            "text/html",
            b"<html><body>" + b"<p>filler</p>" * (BIG_BYTES // 13) + b"</body></html>",
        ),
        "/data.json": ("application/json", b'{"not": "a page"}'),
    }
    hits: ClassVar[dict[str, int]] = {}

    def do_GET(self) -> None:
        self.hits[self.path] = self.hits.get(self.path, 0) + 1
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/article.html")
            self.end_headers()
            return
        if self.path == "/slow.html":
            time.sleep(SLOW_SECONDS)
        content_type, body = self.routes.get(self.path, ("text/html", b"<p>slow</p>"))
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class Site:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Pages)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def hits(self) -> dict[str, int]:
        return _Pages.hits

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
