"""``GET /docs``: the operations of /openapi.json as a plain HTML page.

No script runs on it, and nothing is loaded from another origin: the console is served
from this origin, and a page pulling scripts from a CDN would let that CDN act as any
signed-in console user. The page says what each operation is and links the schema;
client tools (Swagger UI, Postman...) can load /openapi.json themselves.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

__all__ = ["install_docs_page"]

_METHODS = ("get", "post", "put", "patch", "delete")
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "code{background:#f3f3f3;padding:0 .2rem}td{padding:.2rem .6rem;vertical-align:top}"
    "tr:nth-child(even){background:#fafafa}"
)


def install_docs_page(api: FastAPI) -> None:
    rendered: list[str] = []  # once: the schema does not change while the app runs

    async def docs_page() -> HTMLResponse:
        if not rendered:
            rendered.append(render(api.openapi()))
        return HTMLResponse(rendered[0], headers={"content-security-policy": _POLICY})

    api.add_api_route("/docs", docs_page, methods=["GET"], include_in_schema=False)


def render(schema: dict[str, Any]) -> str:
    info = schema.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    rows = []
    for path, item in sorted(schema.get("paths", {}).items()):
        for method in _METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            summary = operation.get("summary") or operation.get("description") or ""
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code></td>"
                f"<td>{escape(summary.splitlines()[0] if summary else '')}</td></tr>"
            )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        f"<style>{_STYLE}</style></head><body><h1>{title}</h1>"
        "<p>The machine-readable description: <a href='/openapi.json'>/openapi.json</a> "
        "(load it in any OpenAPI tool).</p>"
        f"<table><tbody>{''.join(rows)}</tbody></table></body></html>"
    )
