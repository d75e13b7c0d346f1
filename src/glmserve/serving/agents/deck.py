"""A deck of slides (or a poster) as the slide agent's model calls write it: Markdown
with a fixed shape, read here into pages (docs/agents.md, "Slides and posters").

    # Deck title
    > A subtitle (optional)

    ## A slide's title
    - a point
    - another point

Lines that are neither headings nor points are points too, so nothing the model wrote
is lost; a slide with more points than a page holds continues on the next page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Deck", "Page", "parse_deck", "MAX_POINTS"]

MAX_POINTS = 6
"""Points a slide page holds; more continue on a page of their own."""
_POSTER_POINTS = 40
_POINT = re.compile(r"^(?:[-*•]|\d+[.)])\s+")


@dataclass(frozen=True)
class Page:
    title: str
    points: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deck:
    title: str
    subtitle: str = ""
    pages: tuple[Page, ...] = field(default_factory=tuple)
    kind: str = "slides"
    """"slides": a title page, then one page per slide; "poster": one page."""

    @property
    def page_count(self) -> int:
        """Pages of the rendered document (the title page included)."""
        return 1 if self.kind == "poster" else 1 + len(self.pages)


def parse_deck(text: str, kind: str = "slides", fallback_title: str = "Slides") -> Deck:
    title, subtitle = "", ""
    sections: list[tuple[str, list[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("```"):
            continue
        if line.startswith("## ") or line.startswith("### "):
            sections.append((line.lstrip("#").strip(), []))
        elif line.startswith("# "):
            if title:
                sections.append((line[2:].strip(), []))
            else:
                title = line[2:].strip()
        elif line.startswith(">") and not sections:
            subtitle = " ".join(filter(None, (subtitle, line.lstrip("> ").strip())))
        else:
            point = _POINT.sub("", line).strip()
            if not point:
                continue
            if not sections:
                sections.append((title or fallback_title, []))
            sections[-1][1].append(point)
    per_page = _POSTER_POINTS if kind == "poster" else MAX_POINTS
    pages: list[Page] = []
    for heading, points in sections:
        chunks = [points[i : i + per_page] for i in range(0, len(points), per_page)] or [[]]
        for n, chunk in enumerate(chunks):
            pages.append(Page(heading if n == 0 else f"{heading} (continued)", tuple(chunk)))
    return Deck(title or fallback_title, subtitle, tuple(pages), kind)
