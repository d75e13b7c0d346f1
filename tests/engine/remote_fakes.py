"""In-process stand-ins for the remote engine's tests: a byte-level tokenizer and
workers that answer through ``httpx.MockTransport`` with scripted streams (the shapes
the real servers send; tests/engine/test_remote_llama_server.py runs the real ones)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from glmserve.engine.remote.engine import RemoteEngine
from glmserve.engine.remote.spec import RemoteSpec, WorkerSpec
from glmserve.engine.remote.tokenizer import GatewayTokenizer

EOS = 300
THINK = 301
SPECIAL = {EOS: b"<eos>", THINK: b"<think>"}


class ByteTokenizer(GatewayTokenizer):
    """One token per UTF-8 byte, plus two special tokens."""

    chat_template = None
    bos_token = ""
    eos_token = "<eos>"
    trained_context = 4096
    stop_ids = frozenset({EOS})
    description = "bytes"

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for i, part in enumerate(text.split("<think>")):
            if i:
                out.append(THINK)
            out.extend(part.encode("utf-8"))
        return out

    def piece(self, token: int) -> bytes:
        return SPECIAL.get(token, bytes([token]) if token < 256 else b"")


def llama_events(
    tokens: list[int], *, cached: int = 0, stop_type: str = "eos"
) -> list[dict[str, Any]]:
    """llama-server's stream for ``tokens`` (return_tokens, timings_per_token)."""
    events: list[dict[str, Any]] = []
    for i, token in enumerate(tokens):
        events.append(
            {
                "content": ByteTokenizer().piece(token).decode("utf-8", "replace"),
                "tokens": [token],
                "stop": False,
                "tokens_predicted": i + 1,
                "tokens_evaluated": 10,
                "timings": {"cache_n": cached},
            }
        )
    events.append(
        {
            "content": "",
            "tokens": [],
            "stop": True,
            "stop_type": stop_type,
            "tokens_predicted": len(tokens),
            "timings": {"cache_n": cached},
        }
    )
    return events


class _Stream(httpx.AsyncByteStream):
    """A worker's event stream; counts what it sent and notices being closed."""

    def __init__(self, worker: FakeWorker) -> None:
        self._worker = worker

    async def __aiter__(self) -> AsyncIterator[bytes]:
        worker = self._worker
        if worker.hold is not None:
            await worker.hold.wait()
        for i, event in enumerate(worker.events):
            if worker.fail_after is not None and i == worker.fail_after:
                raise httpx.ReadError("connection reset by peer")
            if worker.stall_after is not None and i == worker.stall_after:
                await asyncio.Event().wait()  # until the client closes the stream
            if worker.delay:
                await asyncio.sleep(worker.delay)
            worker.sent += 1
            yield f"data: {json.dumps(event)}\n\n".encode()

    async def aclose(self) -> None:
        self._worker.closed += 1


@dataclass
class FakeWorker:
    """What one fake worker answers, and what it was asked."""

    health: int = 200
    unreachable: bool = False
    status: int = 200
    error_body: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    fail_after: int | None = None
    delay: float = 0.0
    """Seconds before each event."""
    stall_after: int | None = None
    """After this many events a stream sends nothing more, until the client closes it."""
    hold: asyncio.Event | None = None
    """When set, each stream sends nothing until the test sets this event: its requests
    stay in flight for as long as the test needs, however fast or loaded the machine."""
    requests: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    """The path of each request (generation and abort calls), in order."""
    closed: int = 0
    """Streams the client closed (cancelled or done)."""
    sent: int = 0
    """Events sent, over all requests."""


async def eventually(check: Callable[[], bool], what: str, seconds: float = 60) -> None:
    """Wait until ``check()`` holds (work sent without waiting for it, such as an abort
    call), polling; fail with ``what`` only after a deadline no loaded machine reaches."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not check():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.01)


class FakeCluster:
    """Workers at http://w0, http://w1, ... behind one MockTransport."""

    def __init__(self, n: int) -> None:
        self.workers = [FakeWorker() for _ in range(n)]

    def url(self, i: int) -> str:
        return f"http://w{i}:8080"

    async def handle(self, request: httpx.Request) -> httpx.Response:
        worker = self.workers[int(request.url.host[1:])]
        if worker.unreachable:
            raise httpx.ConnectError("connection refused", request=request)
        if request.url.path == "/health":
            return httpx.Response(worker.health)
        worker.paths.append(request.url.path)
        worker.requests.append(json.loads(request.content))
        if request.url.path.endswith("/abort_requests"):
            return httpx.Response(200)
        if worker.status != 200:
            return httpx.Response(worker.status, json=worker.error_body)
        return httpx.Response(
            200, stream=_Stream(worker), headers={"content-type": "text/event-stream"}
        )

    def engine(
        self,
        kind: str = "llama-server",
        cap: int = 8,
        tokenizer: GatewayTokenizer | None = None,
        folder: Path = Path("unused"),
        **spec: Any,
    ) -> RemoteEngine:
        workers = tuple(
            WorkerSpec(self.url(i), kind, max_in_flight=cap)  # type: ignore[arg-type]
            for i in range(len(self.workers))
        )
        remote = RemoteSpec(workers=workers, tokenizer=folder, context_size=4096, **spec)
        return RemoteEngine(
            remote, tokenizer or ByteTokenizer(), transport=httpx.MockTransport(self.handle)
        )
