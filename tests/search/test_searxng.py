"""The SearXNG back end against a server speaking SearXNG's JSON (tests/support/searxng.py;
SearXNG itself cannot be installed here)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from glmserve.config.search import SearxngSettings
from glmserve.search import BackendDown, SearchQuery
from glmserve.search.searxng import Searxng
from tests.support.searxng import FakeSearxng, corpus


@pytest.fixture
def searxng() -> Iterator[FakeSearxng]:
    fake = FakeSearxng(corpus())
    yield fake
    fake.stop()


def test_pages_are_read_until_count_and_results_are_mapped(searxng: FakeSearxng) -> None:
    backend = Searxng(SearxngSettings(searxng.url))
    hits = backend.search(SearchQuery("glacier melt", count=30))
    assert len(hits) == 30 and len({h.link for h in hits}) == 30
    assert [q.get("pageno") for q in searxng.seen] == [["1"], ["2"]]
    assert searxng.seen[0]["format"] == ["json"] and searxng.seen[0]["q"] == ["glacier melt"]
    first = hits[0]
    assert first.link == "https://news.example.com/page/0" and first.title.startswith("Result 0")
    assert first.content.startswith("Snippet 0") and first.media == "news.example.com"
    assert len(first.publish_date) == 10 and first.images == ()
    assert len(backend.search(SearchQuery("glacier", count=5))) == 5


def test_domain_recency_and_images(searxng: FakeSearxng) -> None:
    backend = Searxng(SearxngSettings(searxng.url))
    hits = backend.search(SearchQuery("glacier", count=50, domain="docs.example.org"))
    assert hits and all(h.media == "docs.example.org" for h in hits)
    assert "site:docs.example.org" in searxng.seen[-1]["q"][0]
    week = backend.search(SearchQuery("glacier", count=50, recency_days=7))
    assert searxng.seen[-1]["time_range"] == ["week"] and 0 < len(week) <= 8
    images = backend.search(SearchQuery("glacier", count=1, include_image=True))
    assert images[0].images == ("https://news.example.com/img/0.png",)


def test_an_instance_without_json_or_away_is_named(searxng: FakeSearxng) -> None:
    searxng.disable_json()
    with pytest.raises(BackendDown, match=r"search\.formats"):
        Searxng(SearxngSettings(searxng.url)).search(SearchQuery("glacier"))
    searxng.stop()
    with pytest.raises(BackendDown, match="cannot be reached"):
        Searxng(SearxngSettings(searxng.url, timeout_seconds=2)).search(SearchQuery("glacier"))
