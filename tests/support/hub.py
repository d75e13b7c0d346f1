"""A local model hub that speaks the Hugging Face file-resolve protocol, for ``glmserve
pull`` tests (no hub is reachable from the test machines).

What it serves, as the real hub does:

- ``GET /api/models/{repo}/tree/{revision}?recursive=true``: the files with ``size``,
  git ``oid`` and, for every file, ``lfs: {oid: sha256, size}``; paged (``page_size``
  entries) with a ``Link: <...>; rel="next"`` header.
- ``GET /api/models/{repo}/revision/{revision}?blobs=true``: ``siblings``
  (``rfilename``, ``size``, ``lfs.sha256``).
- ``GET|HEAD /{repo}/resolve/{revision}/{path}``: a 302 to the "CDN" on another host
  name (``localhost`` instead of ``127.0.0.1``, so clients must not forward the token),
  with ``X-Linked-Etag`` (the SHA-256) and ``X-Linked-Size``.
- ``GET /cdn/{repo}/{path}``: the bytes; ``Range: bytes=N-`` gives 206.

Knobs for the tests: ``token`` (401 without it on the API and resolve routes),
``cut_once`` (paths whose first full download is cut mid-file), ``wrong_sha`` (paths
whose published SHA-256 is not their content's), ``tree_api`` (False: 404 on the tree
route, like a hub without it), ``lfs_in_listing`` (False: listings carry no SHA-256, so
only ``X-Linked-Etag`` names it). ``requests`` records what each request asked for.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["LocalHub", "Seen"]


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    host: str
    range: str | None
    authorization: str | None


@dataclass
class LocalHub:
    repos: dict[str, dict[str, bytes]]
    token: str | None = None
    cut_once: set[str] = field(default_factory=set)
    wrong_sha: set[str] = field(default_factory=set)
    tree_api: bool = True
    lfs_in_listing: bool = True
    page_size: int = 2
    requests: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        hub = self

        class Handler(_Handler):
            owner = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def sha256(self, repo: str, path: str) -> str:
        data = self.repos[repo][path]
        if f"{repo}/{path}" in self.wrong_sha:
            data = data + b"tampered"
        return hashlib.sha256(data).hexdigest()

    def entries(self, repo: str) -> list[dict[str, Any]]:
        out = []
        for path, data in sorted(self.repos[repo].items()):
            oid = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
            entry: dict[str, Any] = {"type": "file", "oid": oid, "size": len(data), "path": path}
            if self.lfs_in_listing:
                entry["lfs"] = {"oid": self.sha256(repo, path), "size": len(data)}
            out.append(entry)
        return out


class _Handler(BaseHTTPRequestHandler):
    owner: LocalHub

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_HEAD(self) -> None:
        self._route(body=False)

    def do_GET(self) -> None:
        self._route(body=True)

    def _route(self, body: bool) -> None:
        hub = self.owner
        url = urlsplit(self.path)
        path = unquote(url.path)
        hub.requests.append(
            Seen(
                self.command,
                path,
                self.headers.get("Host", ""),
                self.headers.get("Range"),
                self.headers.get("Authorization"),
            )
        )
        if path.startswith("/cdn/"):
            return self._cdn(path.removeprefix("/cdn/"), body)
        if hub.token and self.headers.get("Authorization") != f"Bearer {hub.token}":
            return self._json(401, {"error": "Invalid username or password."})
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"] and len(parts) >= 6:
            repo, kind, revision = "/".join(parts[2:4]), parts[4], parts[5]
            if repo not in hub.repos or revision != "main":
                return self._json(404, {"error": "Repository not found"})
            if kind == "tree" and hub.tree_api:
                return self._tree(repo, parse_qs(url.query))
            if kind == "revision":
                siblings = [
                    {"rfilename": e["path"], "size": e["size"]}
                    | (
                        {"lfs": {"sha256": e["lfs"]["oid"], "size": e["size"]}}
                        if "lfs" in e
                        else {}
                    )
                    for e in hub.entries(repo)
                ]
                return self._json(200, {"id": repo, "sha": "0" * 40, "siblings": siblings})
            return self._json(404, {"error": "Not found"})
        if len(parts) >= 5 and parts[2] == "resolve":
            repo, revision, file = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
            if repo not in hub.repos or revision != "main" or file not in hub.repos[repo]:
                return self._json(404, {"error": "Entry not found"})
            self.send_response(302)
            location = f"http://localhost:{hub.port}/cdn/{repo}/{quote(file)}?X-Signature=abc"
            self.send_header("Location", location)
            self.send_header("X-Linked-Etag", f'"{hub.sha256(repo, file)}"')
            self.send_header("X-Linked-Size", str(len(hub.repos[repo][file])))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return self._json(404, {"error": "Not found"})

    def _tree(self, repo: str, query: dict[str, list[str]]) -> None:
        hub = self.owner
        entries = hub.entries(repo)
        start = int(query.get("cursor", ["0"])[0])
        page = entries[start : start + hub.page_size]
        headers = {}
        if start + hub.page_size < len(entries):
            following = f"{hub.url}/api/models/{repo}/tree/main?recursive=true"
            headers["Link"] = f'<{following}&cursor={start + hub.page_size}>; rel="next"'
        self._json(200, page, headers)

    def _cdn(self, where: str, body: bool) -> None:
        hub = self.owner
        owner, name, file = where.split("/", 2)
        repo = f"{owner}/{name}"
        data = hub.repos.get(repo, {}).get(file)
        if data is None:
            return self._json(404, {"error": "NoSuchKey"})
        start = 0
        ranged = self.headers.get("Range")
        if ranged:
            start = int(ranged.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return None
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if not body:
            return None
        key = f"{repo}/{file}"
        if key in hub.cut_once and not ranged:
            hub.cut_once.discard(key)
            self.wfile.write(data[start : start + (len(data) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return None  # the connection closes short of Content-Length
        self.wfile.write(data[start:])
        return None

    def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
