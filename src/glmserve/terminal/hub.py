"""A Hugging Face-compatible model hub, as ``glmserve pull`` uses it.

The protocol (the same the hub's own clients speak):

- ``GET {endpoint}/api/models/{repo}/tree/{revision}?recursive=true``: the files, each
  with its size and, for files stored in Git LFS (every GGUF), ``lfs.oid``: the SHA-256
  of the content. Pages are chained with a ``Link: <...>; rel="next"`` header. A hub
  without the tree API gets ``GET {endpoint}/api/models/{repo}/revision/{revision}?blobs=true``
  (``siblings``, with ``lfs.sha256``).
- ``GET {endpoint}/{repo}/resolve/{revision}/{path}``: the content, usually through a
  redirect to a CDN (the token is not sent across hosts). ``X-Linked-Etag`` on the
  hub's own answer is the LFS SHA-256 too. ``Range: bytes=N-`` resumes (206).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

__all__ = ["HubError", "HubFile", "Hub"]

_BLOCK = 1 << 20
_ATTEMPTS = 5


class HubError(Exception):
    """The hub refused, or a download failed or did not match its checksum."""


@dataclass(frozen=True)
class HubFile:
    path: str
    size: int | None
    sha256: str | None


class Hub:
    def __init__(self, endpoint: str, token: str | None, revision: str = "main") -> None:
        self.endpoint = endpoint.rstrip("/")
        self.revision = revision
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers["User-Agent"] = "glmserve-pull"
        self._http = httpx.Client(
            headers=headers,
            follow_redirects=True,
            timeout=httpx.Timeout(60.0, connect=15.0),
        )

    def close(self) -> None:
        self._http.close()

    def files(self, repo: str) -> list[HubFile]:
        rev = quote(self.revision, safe="")
        url: str | None = f"{self.endpoint}/api/models/{repo}/tree/{rev}?recursive=true"
        found: list[HubFile] = []
        while url:
            response = self._get(url, repo)
            if response.status_code == 404 and not found:
                return self._siblings(repo)
            _check(response, repo)
            for entry in response.json():
                if entry.get("type", "file") == "file":
                    lfs = entry.get("lfs") or {}
                    found.append(HubFile(entry["path"], entry.get("size"), lfs.get("oid")))
            url = response.links.get("next", {}).get("url")
        return found

    def _siblings(self, repo: str) -> list[HubFile]:
        rev = quote(self.revision, safe="")
        response = self._get(f"{self.endpoint}/api/models/{repo}/revision/{rev}?blobs=true", repo)
        _check(response, repo)
        siblings: list[dict[str, Any]] = response.json().get("siblings") or []
        return [
            HubFile(s["rfilename"], s.get("size"), (s.get("lfs") or {}).get("sha256"))
            for s in siblings
        ]

    def _get(self, url: str, repo: str) -> httpx.Response:
        try:
            return self._http.get(url)
        except httpx.TransportError as exc:
            raise HubError(f"cannot reach {self.endpoint} for {repo}: {exc}") from None

    def resolve_url(self, repo: str, path: str) -> str:
        rev = quote(self.revision, safe="")
        return f"{self.endpoint}/{repo}/resolve/{rev}/{quote(path)}"

    def download(
        self, repo: str, file: HubFile, target: Path, progress: Callable[[int, int | None], None]
    ) -> str:
        """Download ``file`` to ``target`` through ``target.partial``, resuming what an
        earlier attempt left there; check its SHA-256; return it. A connection cut
        mid-file is retried from where it stopped. ``progress(done, total)``."""
        partial = target.with_name(target.name + ".partial")
        target.parent.mkdir(parents=True, exist_ok=True)
        expected: str | None = None
        for attempt in range(_ATTEMPTS):
            try:
                linked = self._fetch(repo, file, partial, progress)
                expected = file.sha256 or linked
                break
            except httpx.TransportError as exc:
                if attempt == _ATTEMPTS - 1:
                    raise HubError(
                        f"download of {file.path} failed ({exc}); {partial} is kept: "
                        "run the same command again to resume"
                    ) from None
        actual = _sha256(partial)
        if expected is None:
            raise HubError(f"the hub publishes no SHA-256 for {file.path}; not trusted")
        if actual != expected:
            partial.unlink()
            raise HubError(
                f"{file.path}: SHA-256 {actual} does not match the hub's {expected}; "
                "the download was removed (run again to download it afresh)"
            )
        os.replace(partial, target)
        return actual

    def _fetch(
        self,
        repo: str,
        file: HubFile,
        partial: Path,
        progress: Callable[[int, int | None], None],
    ) -> str | None:
        """Append the rest of the file to ``partial``; the SHA-256 the hub's headers
        name (X-Linked-Etag), if any."""
        offset = partial.stat().st_size if partial.exists() else 0
        if file.size is not None and offset > file.size:
            partial.unlink()
            offset = 0
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        url = self.resolve_url(repo, file.path)
        with self._http.stream("GET", url, headers=headers) as response:
            linked = _linked_sha256(response)
            if response.status_code == 416 and offset == file.size:
                return linked  # an earlier attempt got it all
            if response.status_code == 416:
                partial.unlink()
                raise HubError(f"the hub refused to resume {file.path}; run again to start over")
            if response.status_code not in (200, 206):
                _check(response, repo, file.path)
            if response.status_code == 200:
                offset = 0  # the server ignored the range: start over
            total = file.size or _total(response, offset)
            progress(offset, total)
            with partial.open("r+b" if offset else "wb") as out:
                out.seek(offset)
                out.truncate()
                for block in response.iter_bytes():
                    out.write(block)
                    offset += len(block)
                    progress(offset, total)
        return linked


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _linked_sha256(response: httpx.Response) -> str | None:
    for answer in (*response.history, response):
        etag = str(answer.headers.get("x-linked-etag", ""))
        etag = etag.removeprefix("W/").strip('"')
        if re.fullmatch(r"[0-9a-f]{64}", etag):
            return etag
    return None


def _total(response: httpx.Response, offset: int) -> int | None:
    length = response.headers.get("content-length")
    return offset + int(length) if length and length.isdigit() else None


def _check(response: httpx.Response, repo: str, path: str | None = None) -> None:
    if response.status_code < 400:
        return
    what = f"{repo}/{path}" if path else repo
    if response.status_code in (401, 403):
        raise HubError(
            f"the hub refused {what} (HTTP {response.status_code}): it is private or gated; "
            "give a token with --token or HF_TOKEN"
        )
    if response.status_code == 404:
        raise HubError(f"{what} not found on the hub (revision and name right?)")
    raise HubError(f"the hub answered HTTP {response.status_code} for {what}")
