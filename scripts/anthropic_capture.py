"""A stand-in Anthropic server that records what a client sends (docs/anthropic.md).

Each request's method, path, query, headers and body go to one JSON line in the log;
the answers are plausible Messages API answers, so a client carries on: text, or a
tool call when the prompt names a tool as ``CALL <tool> <json input>``, a thinking
block when the request asks for thinking, and the matching stream events. Used to see
what a new client version sends before changing protocol/anthropic.py:

    python scripts/anthropic_capture.py --port 8099 --log /tmp/capture.jsonl
    ANTHROPIC_BASE_URL=http://127.0.0.1:8099 claude -p "..."

Standard library only: it runs before the project's virtualenv exists.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_LOCK = threading.Lock()
_CALL = re.compile(r"CALL (\w+) (\{.*?\})\s*$", re.S)


def _last_user_text(body: dict[str, Any]) -> tuple[str, bool]:
    """The last user message's text, and whether it answers a tool call."""
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content, False
        texts = [b.get("text", "") for b in content if b.get("type") == "text"]
        results = any(b.get("type") == "tool_result" for b in content)
        return "\n".join(texts), results
    return "", False


def answer_blocks(body: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    text, answered = _last_user_text(body)
    blocks: list[dict[str, Any]] = []
    thinking = body.get("thinking") or {}
    if thinking.get("type") in ("enabled", "adaptive"):
        blocks.append({"type": "thinking", "thinking": "Let me think.", "signature": "c2ln"})
    match = _CALL.search(text)
    if match and not answered:
        blocks.append(
            {
                "type": "tool_use",
                "id": "toolu_capture01",
                "name": match.group(1),
                "input": json.loads(match.group(2)),
            }
        )
        return blocks, "tool_use"
    blocks.append({"type": "text", "text": "Done." if answered else "hello"})
    return blocks, "end_turn"


def _sse(kind: str, data: dict[str, Any]) -> bytes:
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data})}\n\n".encode()


def stream_events(body: dict[str, Any], model: str) -> list[bytes]:
    blocks, stop = answer_blocks(body)
    usage = {"input_tokens": Handler.input_tokens, "output_tokens": 0}
    message = {"id": "msg_capture", "type": "message", "role": "assistant", "model": model,
               "content": [], "stop_reason": None, "stop_sequence": None, "usage": usage}
    out = [_sse("message_start", {"message": message}), _sse("ping", {})]
    for i, block in enumerate(blocks):
        if block["type"] == "thinking":
            out.append(_sse("content_block_start", {"index": i, "content_block": {
                "type": "thinking", "thinking": "", "signature": ""}}))
            out.append(_sse("content_block_delta", {"index": i, "delta": {
                "type": "thinking_delta", "thinking": block["thinking"]}}))
            out.append(_sse("content_block_delta", {"index": i, "delta": {
                "type": "signature_delta", "signature": block["signature"]}}))
        elif block["type"] == "text":
            out.append(_sse("content_block_start", {"index": i, "content_block": {
                "type": "text", "text": ""}}))
            out.append(_sse("content_block_delta", {"index": i, "delta": {
                "type": "text_delta", "text": block["text"]}}))
        else:
            out.append(_sse("content_block_start", {"index": i, "content_block": {
                **block, "input": {}}}))
            out.append(_sse("content_block_delta", {"index": i, "delta": {
                "type": "input_json_delta", "partial_json": json.dumps(block["input"])}}))
        out.append(_sse("content_block_stop", {"index": i}))
    out.append(_sse("message_delta", {"delta": {"stop_reason": stop, "stop_sequence": None},
                                      "usage": {"output_tokens": 5}}))
    out.append(_sse("message_stop", {}))
    return out


class Handler(BaseHTTPRequestHandler):
    log_path = ""
    input_tokens = 10
    protocol_version = "HTTP/1.1"

    def _record(self, body: bytes) -> Any:
        url = urlsplit(self.path)
        try:
            parsed: Any = json.loads(body) if body else None
        except ValueError:
            parsed = body.decode(errors="replace")
        entry = {"method": self.command, "path": url.path, "query": parse_qs(url.query),
                 "headers": dict(self.headers.items()), "body": parsed}
        with _LOCK, open(self.log_path, "a") as log:
            log.write(json.dumps(entry) + "\n")
        return parsed

    def _send(self, status: int, payload: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", kind)
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def do_HEAD(self) -> None:  # noqa: N802
        self._record(b"")
        self._send(200, b"")

    def do_GET(self) -> None:  # noqa: N802
        self._record(b"")
        self._send(200, b"{}")

    def do_POST(self) -> None:  # noqa: N802
        body = self._record(self.rfile.read(int(self.headers.get("content-length") or 0)))
        path = urlsplit(self.path).path
        if not isinstance(body, dict):
            self._send(400, b'{"type":"error","error":{"type":"invalid_request_error"}}')
        elif path.endswith("/count_tokens"):
            self._send(200, b'{"input_tokens": 100}')
        elif body.get("stream"):
            self._send(200, b"".join(stream_events(body, body.get("model", ""))),
                       "text/event-stream")
        else:
            blocks, stop = answer_blocks(body)
            message = {"id": "msg_capture", "type": "message", "role": "assistant",
                       "model": body.get("model", ""), "content": blocks, "stop_reason": stop,
                       "stop_sequence": None,
                       "usage": {"input_tokens": Handler.input_tokens, "output_tokens": 5}}
            self._send(200, json.dumps(message).encode())

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument("--log", required=True)
    parser.add_argument(
        "--input-tokens", type=int, default=10, help="the prompt size every answer reports"
    )
    args = parser.parse_args()
    Handler.log_path = args.log
    Handler.input_tokens = args.input_tokens
    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
