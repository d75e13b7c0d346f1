"""The console's pages and static files, and where they hang in the application."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from glmserve import __version__
from glmserve.console import data

__all__ = ["install", "PREFIX", "PAGES"]

PREFIX = "/console"
HERE = Path(__file__).parent

PAGES = {
    "playground": "Playground",
    "images": "Images",
    "keys": "API keys",
    "usage": "Usage",
    "models": "Models and workers",
    "tasks": "Async tasks",
    "batches": "Batches",
}
"""Each page's path under the prefix and its title, in the order of the menu."""

# Everything the pages load comes from this server (no CDN: the console works offline);
# no inline script or style, no framing, no form posting elsewhere.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)

_templates = Jinja2Templates(directory=HERE / "templates")
pages = APIRouter(include_in_schema=False)


@pages.get("")
@pages.get("/")
async def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/playground")


@pages.get("/{page}", response_class=HTMLResponse)
async def page(request: Request, page: str) -> HTMLResponse:
    if page not in PAGES:
        raise HTTPException(404, "No such console page.")
    context = {"page": page, "pages": PAGES, "prefix": PREFIX, "version": __version__}
    response = _templates.TemplateResponse(request, f"{page}.html", context)
    response.headers["Content-Security-Policy"] = _CSP
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def install(api: FastAPI) -> None:
    """Add the console to the application: its JSON routes, pages and static files."""
    api.include_router(data.router, prefix=PREFIX + "/api")
    api.mount(PREFIX + "/static", StaticFiles(directory=HERE / "static"), name="console-static")
    api.include_router(pages, prefix=PREFIX)
