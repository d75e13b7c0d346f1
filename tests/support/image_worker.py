"""A stand-in for an image worker speaking OpenAI's images API as vLLM-Omni and SGLang
diffusion document it (``POST /v1/images/generations``, ``response_format: b64_json``,
their extra ``seed`` and ``num_inference_steps``): a small real HTTP server in a thread
that answers in that wire format with a flat image whose colour comes from the request
(the seed and the prompt's length), so a test can tell what reached it."""

from __future__ import annotations

import base64
import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from PIL import Image

__all__ = ["FakeWorker", "start_worker"]


@dataclass
class FakeWorker:
    status: int = 200
    seen: list[dict[str, Any]] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    url: str = ""
    server: ThreadingHTTPServer | None = None


def start_worker(worker: FakeWorker) -> FakeWorker:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            worker.seen.append(body)
            worker.headers.append(self.headers.get("authorization", ""))
            if self.path != "/v1/images/generations" or worker.status != 200:
                self._send(worker.status, {"error": {"message": "worker trouble"}})
                return
            width, height = (int(v) for v in body["size"].split("x"))
            data = []
            for i in range(body["n"]):
                shade = (body["seed"] + i) % 256
                image = Image.new("RGB", (width, height), (shade, len(body["prompt"]) % 256, 9))
                buffer = io.BytesIO()
                image.save(buffer, format="PNG")
                data.append({"b64_json": base64.b64encode(buffer.getvalue()).decode()})
            self._send(200, {"created": 1, "data": data})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    worker.server = server
    worker.url = f"http://127.0.0.1:{server.server_address[1]}"
    return worker
