"""The web reader: a URL fetched with the safe fetcher chat's images use (serving/media/fetch.py:
non-public addresses refused unless ``[reader] allow_private_urls``, every redirect
checked again, size and time bounded), its main content extracted as Markdown or text
(search/pages.py), PDFs read as text. Answers are kept in a bounded cache (least
recently read dropped first, each for ``cache_seconds``) unless ``no_cache``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from glmserve.config.search import ReaderSettings
from glmserve.errors import UnreadablePage
from glmserve.protocol.web_search import ReaderRequest
from glmserve.search.pages import Page, PageError, read_html, read_pdf
from glmserve.serving.media.fetch import Fetcher, FetchError, FetchPolicy

__all__ = ["MAX_TIMEOUT", "Reader"]

MAX_TIMEOUT = 60.0
"""The longest ``timeout`` a request may ask for, in seconds."""
_ACCEPT = ("text/html", "application/xhtml+xml", "application/pdf")


class Reader:
    def __init__(self, settings: ReaderSettings) -> None:
        self._settings = settings
        self._cache: OrderedDict[tuple[Any, ...], tuple[float, dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()
        self._fetcher = Fetcher()

    def close(self) -> None:
        self._fetcher.close()

    def read(self, request: ReaderRequest) -> dict[str, Any]:
        """The ``reader_result`` of the request; raises UnreadablePage (1214)."""
        key = (request.url, request.return_format, request.retain_images, request.no_gfm,
               request.keep_img_data_url, request.with_images_summary,
               request.with_links_summary)  # fmt: skip
        if not request.no_cache:
            cached = self._cached(key)
            if cached is not None:
                return cached
        result = self._fetch(request)
        self._keep(key, result)
        return result

    def _fetch(self, request: ReaderRequest) -> dict[str, Any]:
        settings = self._settings
        policy = FetchPolicy(
            timeout=request.timeout or settings.timeout_seconds,
            max_bytes=settings.max_bytes,
            max_redirects=settings.max_redirects,
            allow_private=settings.allow_private_urls,
        )
        try:
            fetched = self._fetcher.fetch(request.url, policy, _ACCEPT)
        except FetchError as exc:
            raise UnreadablePage(f"{request.url} cannot be read: {exc}") from None
        except ValueError as exc:  # a redirect to a URL that does not parse
            raise UnreadablePage(f"{request.url} cannot be read: {exc}") from None
        try:
            if fetched.content_type == "application/pdf":
                page = read_pdf(fetched.data)
            else:
                page = read_html(
                    fetched.data.decode(_charset(fetched.data), errors="replace"),
                    url=request.url,
                    fmt=request.return_format,
                    images=request.retain_images,
                    gfm=not request.no_gfm,
                    data_urls=request.keep_img_data_url,
                )
        except PageError as exc:
            raise UnreadablePage(f"{request.url} cannot be read: {exc}") from None
        return _result(page, request)

    def _cached(self, key: tuple[Any, ...]) -> dict[str, Any] | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            if time.monotonic() - entry[0] > self._settings.cache_seconds:
                del self._cache[key]
                return None
            self._cache.move_to_end(key)
            return entry[1]

    def _keep(self, key: tuple[Any, ...], result: dict[str, Any]) -> None:
        if self._settings.cache_entries == 0:
            return
        with self._lock:
            self._cache[key] = (time.monotonic(), result)
            self._cache.move_to_end(key)
            while len(self._cache) > self._settings.cache_entries:
                self._cache.popitem(last=False)


def _result(page: Page, request: ReaderRequest) -> dict[str, Any]:
    """Z.AI's ``reader_result`` (the SDK's ``ReaderData``)."""
    result: dict[str, Any] = {
        "title": page.title,
        "description": page.description,
        "url": page.url or request.url,
        "content": page.content,
        "metadata": dict(page.metadata),
    }
    if page.published:
        result["publishedTime"] = page.published
    if request.with_images_summary:
        result["images"] = dict(page.images)
    if request.with_links_summary:
        result["links"] = dict(page.links)
    return result


def _charset(data: bytes) -> str:
    """The page's declared charset (a meta tag in its first bytes), else UTF-8."""
    head = data[:2048].decode("ascii", errors="ignore").lower()
    marker = head.find("charset=")
    if marker >= 0:
        name = head[marker + 8 :].strip("\"' ").split('"')[0].split("'")[0].split(";")[0]
        name = name.split()[0] if name.split() else ""
        try:
            "".encode(name)
            return name
        except LookupError:
            pass
    return "utf-8"
