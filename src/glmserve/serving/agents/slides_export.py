"""A deck exported to PPTX (python-pptx) or PDF (the HTML printed by headless Chromium
through Playwright), page for page (docs/agents.md, "Slides and posters").

PPTX needs nothing beyond the package. PDF needs Playwright (the ``agents`` extra) and
a Chromium: ``[agents] chromium``, or ``chromium`` / ``chromium-browser`` on the PATH;
without one a PDF is refused with 1214 naming what is missing, before any model call.
"""

from __future__ import annotations

import io
import logging
import shutil
from pathlib import Path

from glmserve.errors import GlmServeError, InvalidField
from glmserve.serving.agents.deck import Deck
from glmserve.serving.agents.slides_html import PAGE_SIZES

__all__ = ["EXPORTS", "Exporter", "find_chromium"]

EXPORTS = ("pdf", "pptx")
_EMU_PER_PX = 9525
log = logging.getLogger(__name__)  # 914400 EMU per inch at 96 CSS pixels per inch


def find_chromium(configured: Path | None) -> Path | None:
    if configured is not None:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


class Exporter:
    def __init__(self, chromium: Path | None) -> None:
        self.chromium = chromium

    def check(self, export: str, field: str) -> None:
        """Refuse an export this server cannot make, before the run starts."""
        if export != "pdf":
            return
        if self.chromium is None:
            raise InvalidField(
                field,
                "PDF export needs a Chromium ([agents] chromium, or chromium on the PATH) "
                "and none was found; 'pptx' is available.",
            )
        try:
            import playwright  # noqa: F401
        except ImportError:
            raise InvalidField(
                field,
                "PDF export needs Playwright (pip install 'glmserve[agents]'); "
                "'pptx' is available.",
            ) from None

    async def pdf(self, html: str, deck: Deck) -> bytes:
        """The HTML printed to PDF; 1234 if Chromium fails (it is an outside program)."""
        try:
            return await self._print(html, deck)
        except Exception as exc:
            log.warning("printing a deck to PDF failed", exc_info=True)
            raise GlmServeError(f"PDF export failed: {exc}", code="1234", status=500) from None

    async def _print(self, html: str, deck: Deck) -> bytes:
        from playwright.async_api import async_playwright

        width, height = PAGE_SIZES[deck.kind]
        async with async_playwright() as driver:
            browser = await driver.chromium.launch(
                executable_path=str(self.chromium), args=["--no-sandbox"]
            )
            try:
                page = await browser.new_page()
                # The document has no external references; refuse any request anyway.
                await page.route("**/*", lambda route: route.abort())
                await page.set_content(html, wait_until="load")
                return await page.pdf(
                    width=f"{width}px", height=f"{height}px", print_background=True
                )
            finally:
                await browser.close()


def pptx(deck: Deck) -> bytes:
    """A PowerPoint file with one slide per page of the HTML: title and points."""
    from pptx import Presentation
    from pptx.util import Emu, Pt

    width, height = PAGE_SIZES[deck.kind]
    presentation = Presentation()
    presentation.slide_width = Emu(width * _EMU_PER_PX)
    presentation.slide_height = Emu(height * _EMU_PER_PX)
    blank = presentation.slide_layouts[6]

    def box(slide: object, top: int, tall: int, lines: list[str], size: int, bold: bool) -> None:
        frame = slide.shapes.add_textbox(  # type: ignore[attr-defined]
            Emu(80 * _EMU_PER_PX), Emu(top * _EMU_PER_PX),
            Emu((width - 160) * _EMU_PER_PX), Emu(tall * _EMU_PER_PX),
        ).text_frame  # fmt: skip
        frame.word_wrap = True
        for i, line in enumerate(lines):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            paragraph.text = line
            paragraph.font.size = Pt(size)
            paragraph.font.bold = bold

    if deck.kind == "poster":
        slide = presentation.slides.add_slide(blank)
        box(slide, 64, 120, [deck.title], 48, True)
        lines = []
        for page in deck.pages:
            lines += [page.title, *(f"• {p}" for p in page.points)]
        box(
            slide, 220, height - 280, [deck.subtitle, *lines] if deck.subtitle else lines, 18, False
        )
    else:
        cover = presentation.slides.add_slide(blank)
        box(cover, height // 3, 120, [deck.title], 44, True)
        if deck.subtitle:
            box(cover, height // 3 + 130, 80, [deck.subtitle], 24, False)
        for page in deck.pages:
            slide = presentation.slides.add_slide(blank)
            box(slide, 56, 90, [page.title], 34, True)
            box(slide, 170, height - 220, [f"• {p}" for p in page.points], 22, False)
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()
