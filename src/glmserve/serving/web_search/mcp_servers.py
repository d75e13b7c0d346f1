"""glmserve's MCP servers on the official ``mcp`` SDK, with Z.AI's names (docs/search.md,
"MCP servers"): ``web_search_prime`` (tool ``webSearchPrime``), ``web_reader`` (tool
``webReader``) and ``vision`` (the tools of Z.AI's vision MCP package, mcp_vision.py).
A search or read is one metered call of ``/web_search`` or ``/reader``: admitted for the
caller the HTTP layer authenticated (``CALLER``), one ledger record.

Streamable HTTP (``/mcp``), stateless, JSON responses: every POST is a whole exchange,
which any number of gateway replicas can answer; and SSE (``/sse``), whose session stays
with the process that opened it.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.types import ASGIApp

from glmserve.errors import GlmServeError
from glmserve.platform.admission import Admission
from glmserve.platform.auth import Principal
from glmserve.serving.models.registry import ModelRegistry
from glmserve.serving.service import CompletionService
from glmserve.serving.web_search.mcp_vision import vision_server
from glmserve.serving.web_search.service import WebSearchService

__all__ = ["CALLER", "McpServers"]

CALLER: ContextVar[Principal | None] = ContextVar("glmserve_mcp_caller", default=None)
"""Who is calling, set by the HTTP layer for the request an MCP exchange arrives on."""


class McpServers:
    """The MCP servers by their path name (``/api/mcp/<name>/mcp``)."""

    def __init__(
        self,
        service: WebSearchService,
        admission: Admission,
        completions: CompletionService,
        models: ModelRegistry,
    ) -> None:
        self._service = service
        self._admission = admission
        self.servers: dict[str, MCPServer] = {
            "web_search_prime": self._search_server(),
            "web_reader": self._reader_server(),
            "vision": vision_server(completions, models, admission, CALLER.get),
        }
        # The API key is the credential (checked before the SDK sees the request), so
        # the SDK's Host and Origin checks, made for servers bound to loopback, are off.
        security = TransportSecuritySettings(enable_dns_rebinding_protection=False)
        self.apps: dict[str, ASGIApp] = {}
        for name, server in self.servers.items():
            streamable = server.streamable_http_app(
                streamable_http_path="/mcp",
                stateless_http=True,
                json_response=True,
                transport_security=security,
            )
            # The older SSE transport too (``/sse`` and its ``/messages/``), as Z.AI's
            # servers have it; its sessions live in this process.
            sse = server.sse_app(transport_security=security)
            self.apps[name] = Starlette(routes=[*streamable.routes, *sse.routes])

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Their session managers, for the application's lifespan."""
        async with contextlib.AsyncExitStack() as stack:
            for server in self.servers.values():
                await stack.enter_async_context(server.session_manager.run())
            yield

    async def _call(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        caller = CALLER.get()
        if caller is None:
            raise ToolError("no authenticated caller")
        metered = self._admission.attempt(caller, "tools")
        try:
            if kind == "search":
                return await self._service.search(body, metered)
            return await self._service.read(body, metered)
        except GlmServeError as exc:
            metered.close(exc)
            raise ToolError(f"{exc.code}: {exc.message}") from None
        finally:
            metered.close()

    def _search_server(self) -> MCPServer:
        server = MCPServer("web-search-prime", instructions="Web search (glmserve).")

        @server.tool(
            name="webSearchPrime",
            description=(
                "Search the web: returns results with page titles, URLs, summaries, site "
                "names and publication dates."
            ),
        )
        async def web_search_prime(
            search_query: str,
            count: int = 10,
            search_domain_filter: str | None = None,
            search_recency_filter: str = "noLimit",
            content_size: str = "medium",
        ) -> str:
            body = {
                "search_engine": "search-prime",
                "search_query": search_query,
                "count": count,
                "search_domain_filter": search_domain_filter,
                "search_recency_filter": search_recency_filter,
                "content_size": content_size,
            }
            answer = await self._call("search", {k: v for k, v in body.items() if v is not None})
            return json.dumps(answer["search_result"], ensure_ascii=False)

        return server

    def _reader_server(self) -> MCPServer:
        server = MCPServer("web-reader", instructions="Read a web page (glmserve).")

        @server.tool(
            name="webReader",
            description=(
                "Fetch a web page and return its title, main content (Markdown or text), "
                "metadata and, when asked, its links and images."
            ),
        )
        async def web_reader(
            url: str,
            return_format: str = "markdown",
            retain_images: bool = True,
            with_links_summary: bool = False,
            with_images_summary: bool = False,
            no_cache: bool = False,
            timeout: int = 20,
        ) -> str:
            body = {
                "url": url,
                "return_format": return_format,
                "retain_images": retain_images,
                "with_links_summary": with_links_summary,
                "with_images_summary": with_images_summary,
                "no_cache": no_cache,
                "timeout": timeout,
            }
            answer = await self._call("read", body)
            return json.dumps(answer["reader_result"], ensure_ascii=False)

        return server
