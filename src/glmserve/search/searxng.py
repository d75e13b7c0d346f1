"""The SearXNG back end: a self-hosted metasearch instance, through its JSON API
(``GET /search?q=...&format=json``; the instance must list ``json`` in
``search.formats`` of its settings.yml). See docs/search.md.

SearXNG answers about 20 results a page and has no count parameter: pages are read
until ``count`` hits are found. The domain filter is sent as ``site:`` and checked on
each link; recency is SearXNG's ``time_range`` (day, week, month, year).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import httpx

from glmserve.config.search import SearxngSettings
from glmserve.search.types import BackendDown, Hit, SearchQuery, host_matches

__all__ = ["Searxng"]

log = logging.getLogger(__name__)

_RANGES = {1: "day", 7: "week", 30: "month", 365: "year"}
_MAX_PAGES = 5


class Searxng:
    def __init__(self, settings: SearxngSettings) -> None:
        self._settings = settings
        self.name = f"SearXNG at {settings.url}"
        self._client = httpx.Client(timeout=settings.timeout_seconds, trust_env=False)

    def close(self) -> None:
        self._client.close()

    def search(self, query: SearchQuery) -> list[Hit]:
        text = query.text if not query.domain else f"{query.text} site:{query.domain}"
        params: dict[str, str] = {"q": text, "format": "json"}
        if query.recency_days is not None:
            params["time_range"] = _RANGES.get(query.recency_days, "year")
        hits: list[Hit] = []
        seen: set[str] = set()
        for page in range(1, _MAX_PAGES + 1):
            results = self._page({**params, "pageno": str(page)})
            for result in results:
                hit = _hit(result, query.include_image)
                if hit is None or hit.link in seen:
                    continue
                if query.domain and not host_matches(hit.link, query.domain):
                    continue
                seen.add(hit.link)
                hits.append(hit)
            if not results or len(hits) >= query.count:
                break
        return hits[: query.count]

    def _page(self, params: dict[str, str]) -> list[dict[str, Any]]:
        url = f"{self._settings.url}/search"
        try:
            response = self._client.get(url, params=params, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise BackendDown(f"{self.name} cannot be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise BackendDown(f"{self.name} answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise BackendDown(
                f"{self.name} did not answer JSON (is 'json' in search.formats of its "
                "settings.yml?)"
            ) from None
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list):
            raise BackendDown(f"{self.name} answered JSON without a results list")
        return [r for r in results if isinstance(r, dict)]


def _hit(result: dict[str, Any], images: bool) -> Hit | None:
    link = result.get("url")
    if not isinstance(link, str) or urlsplit(link).scheme not in ("http", "https"):
        return None
    published = result.get("publishedDate") or ""
    image = result.get("img_src") or result.get("thumbnail") or ""
    return Hit(
        title=str(result.get("title") or ""),
        link=link,
        content=str(result.get("content") or ""),
        media=urlsplit(link).hostname or "",
        publish_date=str(published)[:10] if isinstance(published, str) else "",
        images=(image,) if images and isinstance(image, str) and image else (),
    )
