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


def _message(model: str, content: list[Any], stop: str | None, output: int) -> dict[str, Any]:
    return {
        "id": "msg_capture",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": Handler.input_tokens, "output_tokens": output},
    }


def _block_events(index: int, block: dict[str, Any]) -> list[bytes]:
    start: dict[str, Any]
    if block["type"] == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [
            {"type": "thinking_delta", "thinking": block["thinking"]},
            {"type": "signature_delta", "signature": block["signature"]},
        ]
    elif block["type"] == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": block["text"]}]
    else:
        start = {**block, "input": {}}
        deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
    return [
        _sse("content_block_start", {"index": index, "content_block": start}),
        *(_sse("content_block_delta", {"index": index, "delta": d}) for d in deltas),
        _sse("content_block_stop", {"index": index}),
    ]


def stream_events(body: dict[str, Any], model: str) -> list[bytes]:
    blocks, stop = answer_blocks(body)
    out = [_sse("message_start", {"message": _message(model, [], None, 0)}), _sse("ping", {})]
    for index, block in enumerate(blocks):
        out += _block_events(index, block)
    delta = {"stop_reason": stop, "stop_sequence": None}
    out.append(_sse("message_delta", {"delta": delta, "usage": {"output_tokens": 5}}))
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
        entry = {
            "method": self.command,
            "path": url.path,
            "query": parse_qs(url.query),
            "headers": dict(self.headers.items()),
            "body": parsed,
        }
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

    def do_HEAD(self) -> None:
        self._record(b"")
        self._send(200, b"")

    def do_GET(self) -> None:
        self._record(b"")
        self._send(200, b"{}")

    def do_POST(self) -> None:
        body = self._record(self.rfile.read(int(self.headers.get("content-length") or 0)))
        path = urlsplit(self.path).path
        if not isinstance(body, dict):
            self._send(400, b'{"type":"error","error":{"type":"invalid_request_error"}}')
        elif path.endswith("/count_tokens"):
            self._send(200, b'{"input_tokens": 100}')
        elif body.get("stream"):
            self._send(
                200, b"".join(stream_events(body, body.get("model", ""))), "text/event-stream"
            )
        else:
            blocks, stop = answer_blocks(body)
            message = _message(body.get("model", ""), blocks, stop, 5)
            self._send(200, json.dumps(message).encode())

    def log_message(self, format: str, *args: Any) -> None:
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
