"""A deck as one self-contained HTML document with a fixed layout (docs/agents.md,
"Slides and posters"): every page a ``<section class="page">`` of a fixed size, the
styles inline, system fonts, no scripts, images or links, so it renders the same
offline and prints one page per section (the PDF export prints it).

The model writes only text (deck.py); the markup is ours and every text is escaped.
"""

from __future__ import annotations

from html import escape

from glmserve.serving.agents.deck import Deck, Page

__all__ = ["render_html", "PAGE_SIZES"]

PAGE_SIZES = {"slides": (1280, 720), "poster": (1080, 1528)}
"""Page size in CSS pixels: 16:9 slides, an A-series portrait poster."""

_STYLE = """
@page {{ size: {w}px {h}px; margin: 0; }}
* {{ box-sizing: border-box; margin: 0; padding: 0; }}
html, body {{ background: #e8ebf0; }}
body {{ font-family: "Noto Sans", "Noto Sans CJK SC", "DejaVu Sans", Arial, sans-serif;
  color: #1d2433; }}
.page {{ width: {w}px; height: {h}px; overflow: hidden; position: relative;
  background: #ffffff; margin: 0 auto; page-break-after: always; break-after: page;
  display: flex; flex-direction: column; }}
.page:last-child {{ page-break-after: auto; break-after: auto; }}
.band {{ height: 14px; background: linear-gradient(90deg, #2b4c9b, #3aa0a8); }}
.body {{ flex: 1; padding: 56px 80px 40px; display: flex; flex-direction: column; }}
h1 {{ font-size: 64px; line-height: 1.15; font-weight: 700; color: #1b2a57; }}
h2 {{ font-size: 44px; line-height: 1.2; font-weight: 700; color: #1b2a57;
  border-bottom: 3px solid #3aa0a8; padding-bottom: 16px; margin-bottom: 28px; }}
.subtitle {{ font-size: 30px; color: #4a5675; margin-top: 24px; }}
.cover .body {{ justify-content: center; }}
ul {{ list-style: none; }}
li {{ font-size: 28px; line-height: 1.4; margin: 0 0 18px 0; padding-left: 36px;
  position: relative; }}
li::before {{ content: ""; position: absolute; left: 4px; top: 14px; width: 12px;
  height: 12px; border-radius: 50%; background: #3aa0a8; }}
.footer {{ position: absolute; right: 40px; bottom: 20px; font-size: 18px; color: #8a93a8; }}
.poster .body {{ padding: 64px 72px; }}
.poster h1 {{ font-size: 72px; }}
.grid {{ display: grid; grid-template-columns: 1fr 1fr; gap: 28px; margin-top: 40px; }}
.card {{ background: #f3f6fb; border-left: 8px solid #3aa0a8; padding: 24px 28px; }}
.card h3 {{ font-size: 32px; color: #1b2a57; margin-bottom: 14px; }}
.card li {{ font-size: 24px; margin-bottom: 10px; }}
"""


def render_html(deck: Deck) -> str:
    width, height = PAGE_SIZES[deck.kind]
    style = _STYLE.format(w=width, h=height)
    if deck.kind == "poster":
        pages = [_poster(deck)]
    else:
        total = deck.page_count
        pages = [_cover(deck, total)]
        pages += [_slide(page, n, total) for n, page in enumerate(deck.pages, 2)]
    body = "\n".join(pages)
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="und"><head><meta charset="utf-8"><title>{escape(deck.title)}</title>'
        '<meta name="viewport" content="width=device-width">'
        f"<style>{style}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def _cover(deck: Deck, total: int) -> str:
    subtitle = f'<p class="subtitle">{escape(deck.subtitle)}</p>' if deck.subtitle else ""
    return (
        '<section class="page cover"><div class="band"></div><div class="body">'
        f"<h1>{escape(deck.title)}</h1>{subtitle}</div>{_footer(1, total)}</section>"
    )


def _slide(page: Page, number: int, total: int) -> str:
    return (
        '<section class="page slide"><div class="band"></div><div class="body">'
        f"<h2>{escape(page.title)}</h2>{_points(page.points)}</div>"
        f"{_footer(number, total)}</section>"
    )


def _poster(deck: Deck) -> str:
    subtitle = f'<p class="subtitle">{escape(deck.subtitle)}</p>' if deck.subtitle else ""
    cards = "".join(
        f'<div class="card"><h3>{escape(p.title)}</h3>{_points(p.points)}</div>' for p in deck.pages
    )
    return (
        '<section class="page poster"><div class="band"></div><div class="body">'
        f'<h1>{escape(deck.title)}</h1>{subtitle}<div class="grid">{cards}</div></div>'
        "</section>"
    )


def _points(points: tuple[str, ...]) -> str:
    if not points:
        return ""
    return "<ul>" + "".join(f"<li>{escape(p)}</li>" for p in points) + "</ul>"


def _footer(number: int, total: int) -> str:
    return f'<div class="footer">{number} / {total}</div>'
