"""A small streaming client of the Z.AI chat API (glmserve's or api.z.ai's).

httpx and Server-Sent Events, nothing more: the same wire the SDKs speak
(docs/api.md), so the terminal commands need no SDK at run time.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

__all__ = ["ApiError", "StreamDelta", "Turn", "ZaiClient"]


class ApiError(Exception):
    """The server refused the request or could not be reached; the message says why."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


@dataclass(frozen=True)
class StreamDelta:
    kind: Literal["reasoning", "content", "tool_call"]
    text: str = ""
    index: int = 0
    name: str | None = None


@dataclass
class Turn:
    """One assistant answer as it builds up from the stream."""

    reasoning: str = ""
    content: str = ""
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None

    def add(self, chunk: dict[str, Any]) -> list[StreamDelta]:
        """Fold one stream chunk in; return what it added, in order."""
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        deltas: list[StreamDelta] = []
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            reasoning = delta.get("reasoning_content") or delta.get("reasoning")
            if reasoning:
                self.reasoning += reasoning
                deltas.append(StreamDelta("reasoning", reasoning))
            if delta.get("content"):
                self.content += delta["content"]
                deltas.append(StreamDelta("content", delta["content"]))
            for call in delta.get("tool_calls") or []:
                deltas.append(self._add_call(call))
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return deltas

    def _add_call(self, call: dict[str, Any]) -> StreamDelta:
        index = int(call.get("index") or 0)
        while len(self.tool_calls) <= index:
            self.tool_calls.append(
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
            )
        slot = self.tool_calls[index]
        function = call.get("function") or {}
        if call.get("id"):
            slot["id"] = call["id"]
        if function.get("name"):
            slot["function"]["name"] = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, dict):  # some servers send an object, not a string
            arguments = json.dumps(arguments, ensure_ascii=False)
        slot["function"]["arguments"] += arguments or ""
        return StreamDelta("tool_call", arguments or "", index, function.get("name"))

    def message(self) -> dict[str, Any]:
        """The assistant message to send back: its reasoning too, so models that keep
        past reasoning (preserved thinking) see it (docs/glm-format.md)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.content}
        if self.reasoning:
            message["reasoning_content"] = self.reasoning
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        return message


class ZaiClient:
    def __init__(self, base_url: str, api_key: str | None, *, timeout: float = 600.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=10.0))

    def close(self) -> None:
        self._http.close()

    def models(self) -> list[str]:
        response = self._send("GET", "/models")
        return [str(m["id"]) for m in response.json().get("data", [])]

    def stream(self, body: dict[str, Any]) -> Generator[dict[str, Any], None, None]:
        """The chunks of a streamed chat completion. Closing the iterator (or an exception
        such as KeyboardInterrupt while reading) closes the connection, which cancels the
        answer on the server."""
        url = f"{self.base_url}/chat/completions"
        try:
            with self._http.stream("POST", url, json={**body, "stream": True}) as response:
                if response.status_code != 200:
                    response.read()
                    raise ApiError(_error_text(response))
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    chunk = json.loads(data)
                    if "error" in chunk:
                        raise ApiError(_error_body(chunk["error"]))
                    yield chunk
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach {url}: {exc}", unreachable=True) from None

    def _send(self, method: str, path: str) -> httpx.Response:
        url = f"{self.base_url}{path}"
        try:
            response = self._http.request(method, url)
        except httpx.TransportError as exc:
            raise ApiError(f"cannot reach {url}: {exc}", unreachable=True) from None
        if response.status_code != 200:
            raise ApiError(_error_text(response))
        return response


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}: {response.text[:300]}"
    error = body.get("error") if isinstance(body, dict) else None
    text = _error_body(error) if isinstance(error, dict) else str(body)[:300]
    hint = ""
    if response.status_code == 401:
        hint = " (give an API key: --api-key, GLMSERVE_API_KEY or ZAI_API_KEY)"
    return f"HTTP {response.status_code}: {text}{hint}"


def _error_body(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    code = error.get("code")
    message = error.get("message", "")
    return f"{message} (code {code})" if code else str(message)
