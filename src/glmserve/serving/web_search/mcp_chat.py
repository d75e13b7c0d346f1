"""The ``mcp`` tool of chat: glmserve is the MCP client (the official ``mcp`` SDK) for the
servers a request names (docs/search.md, "MCP tools in chat").

Each server's tools (those in ``allowed_tools``, when given) are shown to the model as
function tools; when the model calls them, glmserve runs the calls, adds the calls and
their results to the conversation and asks the model again, until it answers without
calling one of them, at most ``MAX_ROUNDS`` rounds. A server is reached over streamable
HTTP or SSE with the request's headers and under the reader's address rules (private
addresses only with ``[reader] allow_private_urls``); glmserve's own servers
(``web_search_prime``, ``web_reader``) are named by label alone and run in process.
The response's message carries the listings and the calls as ``tool_calls`` entries of
type ``mcp`` (``mcp_list_tools``, ``mcp_call``), as Z.AI's does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from mcp import Client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.mcpserver import MCPServer
from mcp.shared._httpx_utils import create_mcp_http_client

from glmserve.errors import GlmServeError, InvalidField
from glmserve.platform.admission import Attempt
from glmserve.platform.auth import Principal
from glmserve.platform.ids import tool_call_id
from glmserve.protocol.chat import (
    ChatCompletionRequest,
    FunctionCall,
    FunctionTool,
    McpTool,
    Message,
    ToolCall,
)
from glmserve.protocol.responses import result_body
from glmserve.serving.media.fetch import address_allowed
from glmserve.serving.run.completion import collect_result
from glmserve.serving.service import CompletionService
from glmserve.serving.web_search.mcp_servers import CALLER

__all__ = [
    "MAX_ROUNDS",
    "McpChat",
    "McpConnections",
    "McpServerTool",
    "mcp_tools_of",
    "run_with_mcp",
]

MAX_ROUNDS = 5
"""Model turns with MCP calls before the answer is taken as it is."""
CALL_TIMEOUT = 60.0
"""Seconds an MCP server has to list its tools or answer a call."""


@dataclass(frozen=True)
class McpServerTool:
    """A request's ``mcp`` tool, read."""

    index: int
    """Its place in the request's tools (for errors)."""
    label: str
    url: str | None
    transport: str
    allowed: tuple[str, ...] | None
    headers: dict[str, str]


def mcp_tools_of(request: ChatCompletionRequest) -> list[McpServerTool]:
    out = []
    for index, tool in enumerate(request.tools or []):
        if isinstance(tool, McpTool):
            out.append(_read(tool.mcp, index))
    labels = [t.label for t in out]
    if len(set(labels)) != len(labels):
        raise InvalidField("tools", "two mcp tools have the same server_label.")
    return out


def _read(raw: Mapping[str, Any], index: int) -> McpServerTool:
    where = f"tools[{index}].mcp."
    label = raw.get("server_label")
    if not isinstance(label, str) or not label.strip():
        raise InvalidField(f"{where}server_label", "must be the server's name")
    url = raw.get("server_url")
    if url is not None and (
        not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https")
    ):
        raise InvalidField(f"{where}server_url", "must be an http(s) URL")
    transport = raw.get("transport_type") or "streamable-http"
    if transport not in ("streamable-http", "sse"):
        raise InvalidField(f"{where}transport_type", "must be 'streamable-http' or 'sse'")
    allowed = raw.get("allowed_tools")
    if allowed is not None and (
        not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed)
    ):
        raise InvalidField(f"{where}allowed_tools", "must be a list of tool names")
    headers = raw.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidField(f"{where}headers", "must be an object of strings")
    return McpServerTool(
        index,
        label.strip(),
        url,
        transport,
        tuple(allowed) if allowed is not None else None,
        headers,
    )


@dataclass
class McpConnections:
    """The open sessions of one request's MCP servers, and the tools they offer."""

    own: Mapping[str, MCPServer]
    allow_private: bool
    caller: Principal
    functions: list[dict[str, Any]] = field(default_factory=list)
    """The servers' tools as function tools (chat templates' shape)."""
    records: list[dict[str, Any]] = field(default_factory=list)
    """The ``mcp`` entries of the response's tool_calls, in order."""
    _owners: dict[str, tuple[str, Client]] = field(default_factory=dict)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)

    async def __aenter__(self) -> McpConnections:
        await self._stack.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.__aexit__(None, None, None)

    async def open(self, tools: list[McpServerTool]) -> None:
        for tool in tools:
            index = tool.index
            client = await self._connect(tool, index)
            try:
                listed = await asyncio.wait_for(client.list_tools(), CALL_TIMEOUT)
            except Exception as exc:
                raise InvalidField(
                    f"tools[{index}].mcp.server_url",
                    f"the MCP server '{tool.label}' could not list its tools ({_reason(exc)}).",
                ) from None
            offered = [t for t in listed.tools if tool.allowed is None or t.name in tool.allowed]
            self.records.append(
                _record(
                    "mcp_list_tools",
                    tool.label,
                    tools=[
                        {
                            "name": t.name,
                            "description": t.description or "",
                            "input_schema": t.input_schema,
                        }
                        for t in offered
                    ],
                )
            )
            for item in offered:
                if item.name in self._owners:
                    raise InvalidField("tools", f"two MCP servers offer a tool '{item.name}'.")
                self._owners[item.name] = (tool.label, client)
                self.functions.append(
                    {
                        "type": "function",
                        "function": {
                            "name": item.name,
                            "description": item.description or "",
                            "parameters": item.input_schema,
                        },
                    }
                )

    def owns(self, name: str) -> bool:
        return name in self._owners

    async def call(self, name: str, arguments: str) -> str:
        """Run one call; its output (or error) as text for the model, and on the record."""
        label, client = self._owners[name]
        error = ""
        output = ""
        try:
            args = json.loads(arguments) if arguments else {}
            token = CALLER.set(self.caller)  # glmserve's own servers bill this caller
            try:
                result = await asyncio.wait_for(client.call_tool(name, args), CALL_TIMEOUT)
            finally:
                CALLER.reset(token)
            output = "\n".join(getattr(part, "text", "") for part in result.content)
            if result.is_error:
                error, output = output or "the tool failed", ""
        except Exception as exc:
            error = _reason(exc)
        self.records.append(
            _record("mcp_call", label, name=name, arguments=arguments, output=output, error=error)
        )
        return output if not error else f"Error: {error}"

    async def _connect(self, tool: McpServerTool, index: int) -> Client:
        if tool.url is None:
            own = self.own.get(tool.label)
            if own is None:
                raise InvalidField(
                    f"tools[{index}].mcp.server_url",
                    f"'{tool.label}' is not one of glmserve's MCP servers "
                    f"({', '.join(self.own)}): give its server_url.",
                )
            return await self._stack.enter_async_context(Client(own))
        await asyncio.to_thread(self._check_address, tool.url, index)
        if tool.transport == "sse":
            transport: Any = sse_client(tool.url, headers=tool.headers)
        else:
            http = await self._stack.enter_async_context(
                create_mcp_http_client(headers=tool.headers)
            )
            transport = streamable_http_client(tool.url, http_client=http)
        try:
            return await self._stack.enter_async_context(Client(transport))
        except Exception as exc:
            raise InvalidField(
                f"tools[{index}].mcp.server_url",
                f"the MCP server '{tool.label}' cannot be reached ({_reason(exc)}).",
            ) from None

    def _check_address(self, url: str, index: int) -> None:
        parts = urlsplit(url)
        try:
            infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443)
        except (socket.gaierror, UnicodeError, ValueError):
            raise InvalidField(
                f"tools[{index}].mcp.server_url", f"the host {parts.hostname} cannot be resolved"
            ) from None
        if self.allow_private:
            return
        for info in infos:
            if not address_allowed(str(info[4][0])):
                raise InvalidField(
                    f"tools[{index}].mcp.server_url",
                    f"the host {parts.hostname} resolves to a non-public address, which "
                    "this server does not connect to",
                )


def _record(kind: str, label: str, **fields: Any) -> dict[str, Any]:
    return {"type": "mcp", "mcp": {"type": kind, "server_label": label, **fields}}


def _reason(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        return _reason(exc.exceptions[0])
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


async def run_with_mcp(
    completions: CompletionService,
    connections: McpConnections,
    servers: list[McpServerTool],
    request: ChatCompletionRequest,
    metered: Attempt,
    *,
    coding: bool,
) -> dict[str, Any]:
    """The non-stream response body of a request with ``mcp`` tools: the model's turns
    and the MCP calls between them. The first turn is recorded on ``metered``, each
    later one on a record of its own."""
    await connections.open(servers)
    kept = [t for t in request.tools or [] if not isinstance(t, McpTool)]
    shown = [FunctionTool.model_validate(f) for f in connections.functions]
    messages = list(request.messages)
    for turn in range(MAX_ROUNDS + 1):
        chat = request.model_copy(update={"tools": [*kept, *shown] or None, "messages": messages})
        prepared = await completions.prepare_off_loop(chat, coding=coding)
        attempt = metered if turn == 0 else metered.sibling("chat")
        try:
            completion = await completions.start(prepared, attempt)
            body = result_body(await collect_result(completion), tool_call_id)
        except GlmServeError as exc:
            if attempt is not metered:
                attempt.close(exc)
            raise
        finally:
            if attempt is not metered:
                attempt.close()
        message = body["choices"][0]["message"]
        calls = message.get("tool_calls") or []
        ours = [c for c in calls if connections.owns(c["function"]["name"])]
        if not ours or len(ours) != len(calls) or turn == MAX_ROUNDS:
            break
        messages.append(
            Message(
                role="assistant",
                content=message.get("content") or None,
                reasoning_content=message.get("reasoning_content"),
                tool_calls=[
                    ToolCall(id=c["id"], function=FunctionCall(**c["function"])) for c in ours
                ],
            )
        )
        for call in ours:
            output = await connections.call(call["function"]["name"], call["function"]["arguments"])
            messages.append(Message(role="tool", tool_call_id=call["id"], content=output))
    records = [{"id": tool_call_id(), **r} for r in connections.records]
    message["tool_calls"] = records + (message.get("tool_calls") or [])
    return body


class McpChat:
    """Chat requests with ``mcp`` tools (see the module's docstring)."""

    def __init__(
        self, completions: CompletionService, own: Mapping[str, MCPServer], allow_private: bool
    ) -> None:
        self._completions = completions
        self._own = own
        self._allow_private = allow_private

    async def answer(
        self, request: ChatCompletionRequest, metered: Attempt, *, coding: bool
    ) -> dict[str, Any] | None:
        """The response body, or None when the request names no MCP server."""
        servers = mcp_tools_of(request)
        if not servers:
            return None
        if request.stream:
            raise InvalidField("stream", "a request with mcp tools is answered whole (stream).")
        connections = McpConnections(self._own, self._allow_private, metered.caller)
        async with connections:
            return await run_with_mcp(
                self._completions, connections, servers, request, metered, coding=coding
            )
