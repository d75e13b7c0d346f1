"""The local search back end: a full-text index of the operator's own documents.

Folders of ``.md``, ``.txt``, ``.html`` and ``.pdf`` files are read at start-up (a
progress bar on the console) into SQLite FTS5, cut into passages of about
``PASSAGE_CHARS``; a search ranks passages with FTS5's BM25 (a document's title weighs
more than its body) and answers each document once, with its best passage (``medium``)
or that passage and the ones after it (``high``). The folders are checked again for
new, changed and removed files (size and modification time) at most every
``rescan_seconds``, before a search. See docs/search.md.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

from tqdm import tqdm

from glmserve.config.search import LocalSearchSettings
from glmserve.search.pages import Page, PageError, read_html, read_markdown, read_pdf, read_text
from glmserve.search.types import Hit, SearchQuery, host_matches

__all__ = ["LocalIndex", "PASSAGE_CHARS", "HIGH_CHARS"]

log = logging.getLogger(__name__)

PASSAGE_CHARS = 600
"""A passage: paragraphs joined up to about this many characters."""
HIGH_CHARS = 2500
"""``content_size: high``: the best passage and the ones after it, up to this many."""
SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm", ".pdf"}
_SEQ_BITS = 20  # a passage's rowid: its document's id << 20 | its number

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY, path TEXT UNIQUE NOT NULL, mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL, title TEXT NOT NULL, link TEXT NOT NULL, media TEXT NOT NULL,
    published TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS passages USING fts5(
    title, body, tokenize = 'porter unicode61 remove_diacritics 2'
);
"""


@dataclass(frozen=True)
class _File:
    path: Path
    root: Path
    mtime_ns: int
    size: int


class LocalIndex:
    def __init__(self, settings: LocalSearchSettings, *, progress: bool = True) -> None:
        self._settings = settings
        self.name = "local index of " + ", ".join(str(p) for p in settings.paths)
        target = str(settings.index_path) if settings.index_path else ":memory:"
        self._db = sqlite3.connect(target, check_same_thread=False)
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._scanned = 0.0
        self.refresh(progress=progress)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- keeping the index current --

    def refresh(self, *, progress: bool = False) -> int:
        """Index new and changed files, drop removed ones; the number of files read."""
        with self._lock:
            self._scanned = time.monotonic()
            files = {str(f.path): f for f in self._files()}
            known = {
                path: (doc, mtime, size)
                for doc, path, mtime, size in self._db.execute(
                    "SELECT id, path, mtime_ns, size FROM documents"
                )
            }
            for path, (doc, _, _) in known.items():
                if path not in files:
                    self._forget(doc)
            changed = [
                f for p, f in files.items() if known.get(p, (0, -1, -1))[1:] != (f.mtime_ns, f.size)
            ]
            for file in tqdm(changed, desc="indexing documents", unit="file", disable=not progress):
                old = known.get(str(file.path))
                if old is not None:
                    self._forget(old[0])
                self._add(file)
            self._db.commit()
            if changed:
                log.info("search index: %d file(s) read, %d in all", len(changed), len(files))
            return len(changed)

    def _files(self) -> list[_File]:
        found = []
        for root in self._settings.paths:
            if not root.is_dir():
                log.warning("search index: %s is not a folder", root)
                continue
            for path in sorted(root.rglob("*")):
                if path.suffix.lower() in SUFFIXES and path.is_file():
                    stat = path.stat()
                    found.append(_File(path, root, stat.st_mtime_ns, stat.st_size))
        return found

    def _forget(self, doc: int) -> None:
        low, high = doc << _SEQ_BITS, (doc + 1) << _SEQ_BITS
        self._db.execute("DELETE FROM passages WHERE rowid >= ? AND rowid < ?", (low, high))
        self._db.execute("DELETE FROM documents WHERE id = ?", (doc,))

    def _add(self, file: _File) -> None:
        try:
            page = _read(file.path)
        except (OSError, PageError) as exc:
            log.warning("search index: %s cannot be read (%s)", file.path, exc)
            page = Page(title=file.path.stem, content="")
        published = page.published or datetime.fromtimestamp(file.mtime_ns / 1e9, UTC).strftime(
            "%Y-%m-%d"
        )
        link, media = self._link(file, page)
        cursor = self._db.execute(
            "INSERT INTO documents (path, mtime_ns, size, title, link, media, published)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (str(file.path), file.mtime_ns, file.size, page.title, link, media, published),
        )
        doc = int(cursor.lastrowid or 0)
        rows = [
            ((doc << _SEQ_BITS) | seq, page.title, body)
            for seq, body in enumerate(passages(page.content)[: (1 << _SEQ_BITS) - 1])
        ]
        self._db.executemany("INSERT INTO passages (rowid, title, body) VALUES (?, ?, ?)", rows)

    def _link(self, file: _File, page: Page) -> tuple[str, str]:
        """The document's link (an HTML page's canonical URL wins) and its site name."""
        base = self._settings.base_url
        if page.url and urlsplit(page.url).scheme in ("http", "https"):
            link = page.url
        elif base:
            relative = file.path.relative_to(file.root).as_posix()
            link = base.rstrip("/") + "/" + quote(relative)
        else:
            link = file.path.resolve().as_uri()
        return link, urlsplit(link).hostname or file.root.name

    # -- searching --

    def search(self, query: SearchQuery) -> list[Hit]:
        if time.monotonic() - self._scanned >= self._settings.rescan_seconds:
            self.refresh()
        terms = re.findall(r"\w+", query.text.lower())
        if not terms:
            return []
        match = " OR ".join(f'"{t}"' for t in dict.fromkeys(terms))
        cutoff = ""
        if query.recency_days is not None:
            day = datetime.now(UTC) - timedelta(days=query.recency_days)
            cutoff = day.strftime("%Y-%m-%d")
        hits: list[Hit] = []
        seen: set[int] = set()
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid FROM passages WHERE passages MATCH ?"
                " ORDER BY bm25(passages, 5.0, 1.0) LIMIT ?",
                (match, max(200, query.count * 20)),
            ).fetchall()
            for (rowid,) in rows:
                doc, seq = rowid >> _SEQ_BITS, rowid & ((1 << _SEQ_BITS) - 1)
                if doc in seen:
                    continue
                seen.add(doc)
                title, link, media, published = self._db.execute(
                    "SELECT title, link, media, published FROM documents WHERE id = ?", (doc,)
                ).fetchone()
                if query.domain and not host_matches(link, query.domain):
                    continue
                if cutoff and published < cutoff:
                    continue
                content = self._content(doc, seq, query.content_size == "high")
                hits.append(Hit(title, link, content, media=media, publish_date=published))
                if len(hits) >= query.count:
                    break
        return hits

    def _content(self, doc: int, seq: int, high: bool) -> str:
        first = (doc << _SEQ_BITS) | seq
        limit = HIGH_CHARS if high else 0
        parts: list[str] = []
        for (body,) in self._db.execute(
            "SELECT body FROM passages WHERE rowid >= ? AND rowid < ? ORDER BY rowid",
            (first, (doc + 1) << _SEQ_BITS),
        ):
            if parts and sum(len(p) for p in parts) + len(body) > limit:
                break
            parts.append(body)
        return "\n\n".join(parts)


def _read(path: Path) -> Page:
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        return read_pdf(path.read_bytes())
    text = path.read_bytes().decode("utf-8", errors="replace")
    if suffix in (".html", ".htm"):
        return read_html(text, fmt="text")
    if suffix in (".md", ".markdown"):
        return read_markdown(text, path.name)
    return read_text(text, path.name)


def passages(text: str, size: int = PASSAGE_CHARS) -> list[str]:
    """Paragraphs joined up to about ``size`` characters; a longer paragraph is cut at
    sentence ends (or at ``size`` when it has none)."""
    pieces: list[str] = []
    for paragraph in re.split(r"\n\s*\n", text):
        paragraph = paragraph.strip()
        while len(paragraph) > size * 2:
            cut = paragraph.rfind(". ", 0, size * 2)
            cut = cut + 1 if cut > size // 2 else size
            pieces.append(paragraph[:cut].strip())
            paragraph = paragraph[cut:].strip()
        if paragraph:
            pieces.append(paragraph)
    out: list[str] = []
    for piece in pieces:
        if out and len(out[-1]) + len(piece) + 2 <= size:
            out[-1] += "\n\n" + piece
        else:
            out.append(piece)
    return out
