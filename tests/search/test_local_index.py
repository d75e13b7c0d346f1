"""The local index on a real folder: BM25 ranking over SQLite FTS5, titles, links,
dates, passages sized by content_size, filters, and files that change."""

from __future__ import annotations

from pathlib import Path

import pytest

from glmserve.config.search import LocalSearchSettings
from glmserve.search import SearchQuery
from glmserve.search.local import HIGH_CHARS, PASSAGE_CHARS, LocalIndex, passages
from tests.search.corpus import write_corpus


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    return write_corpus(tmp_path)


def _index(docs: Path, base_url: str | None = "https://docs.example.com/") -> LocalIndex:
    settings = LocalSearchSettings(paths=(docs,), base_url=base_url, rescan_seconds=0)
    return LocalIndex(settings, progress=False)


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("what do river otters eat", "River otter care"),
        ("storage compaction", "Kestrel 2.0 release notes"),
        ("crocus stigmas threads", "Saffron harvest"),
        ("herons estuary", "Heron field guide"),
    ],
)
def test_the_top_result_is_the_right_document(docs: Path, query: str, title: str) -> None:
    hits = _index(docs).search(SearchQuery(query))
    assert hits[0].title == title


def test_links_dates_and_site_names(docs: Path) -> None:
    index = _index(docs)
    (otters,) = index.search(SearchQuery("otters", count=1))
    assert otters.link == "https://docs.example.com/guides/otters.md"
    assert otters.publish_date == "2026-10-01"  # front matter
    assert otters.media == "docs.example.com"
    (kestrel,) = index.search(SearchQuery("kestrel", count=1))
    assert kestrel.link == "https://kestrel.example.org/notes/2.0"  # canonical URL wins
    assert kestrel.publish_date == "2026-11-20"
    assert "Copyright" not in kestrel.content  # the footer is not the page's content
    (heron,) = index.search(SearchQuery("heron", count=1))
    assert heron.publish_date == "2026-03-15"  # the PDF's creation date
    (lighthouse,) = index.search(SearchQuery("lighthouse", count=1))
    assert lighthouse.publish_date < "2026-01-01"  # no date inside: its modification time
    bare = _index(docs, base_url=None).search(SearchQuery("saffron", count=1))
    assert bare[0].link == (docs / "saffron.txt").resolve().as_uri()


def test_filters_and_count(docs: Path) -> None:
    index = _index(docs)
    everything = index.search(SearchQuery("the", count=50))
    assert len(everything) == 5
    assert len(index.search(SearchQuery("the", count=2))) == 2
    only = index.search(SearchQuery("the", count=50, domain="kestrel.example.org"))
    assert [h.title for h in only] == ["Kestrel 2.0 release notes"]
    assert index.search(SearchQuery("the", count=50, domain="example.org"))  # subdomains match
    recent = index.search(SearchQuery("lighthouse lamp otters", count=50, recency_days=365))
    assert "Lighthouse keeping" not in [h.title for h in recent] and recent
    assert index.search(SearchQuery("lighthouse", recency_days=None))


def test_content_size_sizes_the_passage(tmp_path: Path) -> None:
    folder = tmp_path / "long"
    folder.mkdir()
    paragraphs = [f"Paragraph {i} about glaciers and moraines. " * 6 for i in range(40)]
    (folder / "glaciers.txt").write_text("Glaciers\n\n" + "\n\n".join(paragraphs))
    index = _index(folder)
    medium = index.search(SearchQuery("glaciers", content_size="medium"))[0].content
    high = index.search(SearchQuery("glaciers", content_size="high"))[0].content
    assert len(medium) <= PASSAGE_CHARS * 2
    assert len(medium) < len(high) <= HIGH_CHARS + PASSAGE_CHARS * 2


def test_changed_new_and_removed_files_are_seen(docs: Path) -> None:
    index = _index(docs)
    assert index.search(SearchQuery("quokka")) == []
    (docs / "quokka.md").write_text("# Quokkas\n\nQuokkas live on Rottnest Island.\n")
    assert index.search(SearchQuery("quokka"))[0].title == "Quokkas"
    (docs / "quokka.md").write_text("# Wallabies\n\nWallabies are smaller than kangaroos.\n")
    assert index.search(SearchQuery("quokka")) == []
    assert index.search(SearchQuery("wallabies"))[0].title == "Wallabies"
    (docs / "quokka.md").unlink()
    assert index.search(SearchQuery("wallabies")) == []


def test_an_index_file_is_kept_and_reused(docs: Path, tmp_path: Path) -> None:
    settings = LocalSearchSettings(paths=(docs,), index_path=tmp_path / "index.db")
    first = LocalIndex(settings, progress=False)
    first.close()
    again = LocalIndex(settings, progress=False)
    assert again.refresh() == 0  # nothing changed: nothing read again
    assert again.search(SearchQuery("otters"))[0].title == "River otter care"


def test_queries_without_words_and_with_fts_syntax(docs: Path) -> None:
    index = _index(docs)
    assert index.search(SearchQuery("?!")) == []
    assert index.search(SearchQuery('otters" OR NEAR(')) != []  # no FTS5 syntax error


def test_passages_join_short_paragraphs_and_cut_long_ones() -> None:
    pieces = passages("a\n\nb\n\n" + "Sentence one. " * 200)
    assert pieces[0].startswith("a\n\nb")
    assert all(len(p) <= PASSAGE_CHARS * 2 for p in pieces)
