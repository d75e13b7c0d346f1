"""A stand-in for SearXNG (which cannot be installed here): a small HTTP server that
answers ``GET /search?format=json`` in SearXNG's documented JSON (``results`` with
``url``, ``title``, ``content``, ``engine``, ``publishedDate``, ``img_src``), 20 results
a page, ``time_range`` applied to ``publishedDate``, ``site:`` applied to the host.
It records the queries it was sent. ``format=html`` (JSON not enabled) answers HTML."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

PAGE = 20
_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}


def result(n: int, host: str, days_old: int, words: str) -> dict[str, Any]:
    published = (datetime.now(UTC) - timedelta(days=days_old)).strftime("%Y-%m-%dT%H:%M:%S")
    return {
        "url": f"https://{host}/page/{n}",
        "title": f"Result {n} on {host}",
        "content": f"Snippet {n}: {words}",
        "engine": "duckduckgo",
        "publishedDate": published,
        "img_src": f"https://{host}/img/{n}.png",
        "score": 1.0 / (n + 1),
    }


class _Handler(BaseHTTPRequestHandler):
    results: ClassVar[list[dict[str, Any]]] = []
    seen: ClassVar[list[dict[str, list[str]]]] = []
    json_enabled: ClassVar[bool] = True

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        if parts.path != "/search":
            self._send(404, "text/plain", b"not found")
            return
        self.seen.append(query)
        if query.get("format") != ["json"] or not self.json_enabled:
            self._send(200, "text/html", b"<html><body>results</body></html>")
            return
        q = query.get("q", [""])[0]
        site = next((w[5:] for w in q.split() if w.startswith("site:")), None)
        matching = [r for r in self.results if site is None or f"://{site}/" in r["url"]]
        if "time_range" in query:
            cutoff = datetime.now(UTC) - timedelta(days=_DAYS[query["time_range"][0]])
            cut = cutoff.strftime("%Y-%m-%dT%H:%M:%S")
            matching = [r for r in matching if r["publishedDate"] >= cut]
        page = int(query.get("pageno", ["1"])[0])
        body = {"query": q, "results": matching[(page - 1) * PAGE : page * PAGE]}
        self._send(200, "application/json", json.dumps(body).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class FakeSearxng:
    def __init__(self, results: list[dict[str, Any]]) -> None:
        handler = type("Handler", (_Handler,), {"results": results, "seen": []})
        self.handler = handler
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def seen(self) -> list[dict[str, list[str]]]:
        return self.handler.seen  # type: ignore[no-any-return]

    def disable_json(self) -> None:
        self.handler.json_enabled = False

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def corpus() -> list[dict[str, Any]]:
    """45 results on three hosts, of ages 0 to 44 days."""
    hosts = ("news.example.com", "blog.example.net", "docs.example.org")
    return [result(n, hosts[n % 3], n, "glacier melt season report") for n in range(45)]
