"""Pages and documents as text: the main content of an HTML page (trafilatura: no
navigation, footer or boilerplate; tables and code kept) as Markdown or plain text, its
metadata, and the text of PDF, Markdown and plain-text files. Used by the local index
and by the web reader (docs/search.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Literal
from urllib.parse import urljoin

import lxml.html
import pypdfium2 as pdfium
import trafilatura

__all__ = ["Page", "PageError", "read_html", "read_markdown", "read_pdf", "read_text"]

Format = Literal["markdown", "text"]


class PageError(Exception):
    """The document cannot be read (not HTML, a broken PDF); the message says why."""


@dataclass(frozen=True)
class Page:
    title: str
    content: str
    description: str = ""
    url: str | None = None
    """The canonical URL the page declares, if any."""
    published: str = ""
    """YYYY-MM-DD, or "" when the document does not say."""
    metadata: dict[str, str] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    """Every image of the page: its caption (alt text, else "Image N") -> absolute URL."""
    links: dict[str, str] = field(default_factory=dict)
    """Every link of the page: its text -> absolute URL."""


def read_html(
    html: str,
    *,
    url: str | None = None,
    fmt: Format = "markdown",
    images: bool = True,
    gfm: bool = True,
    data_urls: bool = False,
) -> Page:
    """The page's main content and metadata. ``images``: keep images in the content;
    ``gfm``: tables as GitHub pipe tables (else rows of plain cells); ``data_urls``:
    keep images inlined as ``data:`` URLs (else they are left out)."""
    if not html.strip():
        raise PageError("the page is empty")
    content = trafilatura.extract(
        html,
        url=url,
        output_format="markdown" if fmt == "markdown" else "txt",
        include_tables=True,
        include_images=images and fmt == "markdown",
        include_formatting=fmt == "markdown",
        include_links=False,
        include_comments=False,
        favor_recall=True,
        deduplicate=False,
    )
    meta = trafilatura.extract_metadata(html, default_url=url)
    tree = _tree(html)
    if content is None:
        content = _plain_text(tree)
    if not data_urls:
        content = re.sub(r"!\[[^\]]*\]\(data:[^)]*\)", "", content)
    if not gfm:
        content = _plain_tables(content)
    title = (meta.title if meta is not None else None) or _tag_text(tree, "title")
    described = meta.description if meta is not None else None
    info = {}
    if meta is not None:
        for key in ("author", "sitename", "hostname", "image", "language"):
            value = getattr(meta, key, None)
            if isinstance(value, str) and value:
                info[key] = value
    base = url or ""
    return Page(
        title=(title or "").strip(),
        content=content.strip(),
        description=(described or "").strip(),
        url=_canonical(tree, base) or (meta.url if meta is not None and meta.url else None),
        published=_day(meta.date if meta is not None else None),
        metadata=info,
        images=_images(tree, base, data_urls),
        links=_links(tree, base),
    )


def read_pdf(data: bytes) -> Page:
    """A PDF's text, page by page, its title and creation date from its metadata."""
    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise PageError(f"the PDF cannot be read ({exc})") from None
    try:
        pages = []
        for index in range(len(pdf)):
            page = pdf[index]
            text = page.get_textpage().get_text_range()
            pages.append(text.replace("\r\n", "\n").strip())
        meta = pdf.get_metadata_dict(skip_empty=True)
    finally:
        pdf.close()
    text = "\n\n".join(p for p in pages if p)
    title = meta.get("Title", "") or _first_line(text)
    date = meta.get("CreationDate", "") or meta.get("ModDate", "")
    found = re.match(r"D:(\d{4})(\d{2})(\d{2})", date)
    published = "-".join(found.groups()) if found else ""
    info = {k.lower(): v for k, v in meta.items() if k in ("Author", "Subject", "Producer")}
    return Page(title=title.strip(), content=text, published=published, metadata=info)


def read_markdown(text: str, name: str) -> Page:
    """A Markdown file: title and date from its front matter, else its first heading."""
    front: dict[str, str] = {}
    found = re.match(r"---\n(.*?)\n---\n", text, re.S)
    if found:
        for line in found.group(1).splitlines():
            key, sep, value = line.partition(":")
            if sep:
                front[key.strip().lower()] = value.strip().strip("\"'")
        text = text[found.end() :]
    heading = re.search(r"^#\s+(.+)$", text, re.M)
    title = front.get("title") or (heading.group(1).strip() if heading else PurePath(name).stem)
    published = _day(front.get("date") or front.get("published"))
    return Page(title=title, content=text.strip(), published=published)


def read_text(text: str, name: str) -> Page:
    """A plain-text file: its first line is its title when it is short."""
    first = _first_line(text)
    title = first if 0 < len(first) <= 120 else PurePath(name).stem
    return Page(title=title, content=text.strip())


# -- helpers --------------------------------------------------------------------------


def _tree(html: str) -> lxml.html.HtmlElement | None:
    try:
        return lxml.html.fromstring(html)
    except (lxml.etree.ParserError, ValueError):
        return None


def _tag_text(tree: lxml.html.HtmlElement | None, tag: str) -> str:
    if tree is None:
        return ""
    found = tree.find(f".//{tag}")
    return found.text_content().strip() if found is not None else ""


def _plain_text(tree: lxml.html.HtmlElement | None) -> str:
    if tree is None:
        return ""
    body = tree.find(".//body")
    return re.sub(r"\n\s*\n+", "\n\n", (body if body is not None else tree).text_content())


def _canonical(tree: lxml.html.HtmlElement | None, base: str) -> str | None:
    if tree is None:
        return None
    for link in tree.iterfind(".//link"):
        if "canonical" in (link.get("rel") or "").lower().split() and link.get("href"):
            return urljoin(base, link.get("href", "").strip())
    return None


def _images(tree: lxml.html.HtmlElement | None, base: str, data_urls: bool) -> dict[str, str]:
    found: dict[str, str] = {}
    if tree is None:
        return found
    for image in tree.iterfind(".//img"):
        src = (image.get("src") or "").strip()
        if not src or (src.startswith("data:") and not data_urls):
            continue
        name = (image.get("alt") or "").strip() or f"Image {len(found) + 1}"
        found.setdefault(name, urljoin(base, src))
    return found


def _links(tree: lxml.html.HtmlElement | None, base: str) -> dict[str, str]:
    found: dict[str, str] = {}
    if tree is None:
        return found
    for anchor in tree.iterfind(".//a"):
        href = (anchor.get("href") or "").strip()
        if not href or href.startswith(("#", "javascript:", "mailto:")):
            continue
        text = " ".join(anchor.text_content().split()) or href
        found.setdefault(text, urljoin(base, href))
    return found


def _plain_tables(markdown: str) -> str:
    """Pipe tables as rows of cells separated by two spaces; separator rows dropped."""
    lines = []
    for line in markdown.splitlines():
        stripped = line.strip()
        if stripped.startswith("|") and stripped.endswith("|"):
            cells = [c.strip() for c in stripped.strip("|").split("|")]
            if all(re.fullmatch(r":?-{3,}:?", c) for c in cells if c):
                continue
            line = "  ".join(cells)
        lines.append(line)
    return "\n".join(lines)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _day(value: str | None) -> str:
    """YYYY-MM-DD of a date or timestamp text, else ""."""
    if not value:
        return ""
    found = re.match(r"(\d{4})-(\d{2})-(\d{2})", value.strip())
    if found:
        return "-".join(found.groups())
    try:
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d")
    except (ValueError, OverflowError, OSError):
        return ""
