"""The server's memory stays within a small multiple of the body limit while
clients send oversized bodies, abandon them half-way, or send bodies within the limit
whose text is over the limits checked before tokenizing (the probe saw 10 GB)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import Server
from tests.e2e.conftest import HARDENED_LIMITS

LIMIT = HARDENED_LIMITS["max_body_bytes"]
CHAT = "/api/paas/v4/chat/completions"
BIG = 50 * 1024 * 1024
BOUND = 32 * LIMIT
"""Growth allowed over the baseline: a body, its text, the parsed request and the
oversized bodies' socket buffers, with room to spare."""


def _rss(pid: int) -> int:
    """Resident bytes of a process and all its descendants (the engine's worker)."""
    total = 0
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        total += int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1])
        total *= 1024
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += _rss(int(child))
    except (FileNotFoundError, ProcessLookupError, StopIteration):
        pass
    return total


@contextmanager
def _peak(pid: int) -> Iterator[list[int]]:
    peak = [_rss(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss(pid))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()


def _abandon(server: Server, *, declared: bool) -> None:
    """Send part of a 50 MB body (with its Content-Length, or chunked), then go away."""
    head = f"POST {CHAT} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    head += f"content-length: {BIG}\r\n\r\n" if declared else "transfer-encoding: chunked\r\n\r\n"
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.settimeout(10)
    chunk = b"a" * 65536
    if not declared:
        chunk = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    try:
        sock.sendall(head.encode() + b'{"model": "gemma-3-270m", "messages": [{"content": "')
        for _ in range(3 * LIMIT // 65536):
            sock.sendall(chunk)
    except OSError:
        pass  # the server answered 413 and closed: what it should do
    finally:
        sock.close()


def _too_much_text(server: Server) -> int:
    """A body under the limit whose one message is over max_message_chars."""
    text = "word " * (LIMIT // 6)
    body = {"model": "gemma-3-270m", "messages": [{"role": "user", "content": text}]}
    return httpx.post(server.base + CHAT, json=body, timeout=120).status_code


def _big_declared(server: Server) -> int:
    with httpx.Client(timeout=120) as client:
        try:
            return client.post(server.base + CHAT, content=b"{" + b" " * BIG + b"}").status_code
        except httpx.TransportError:
            return 413  # closed after its 413 while the client was still writing


def test_memory_stays_bounded_whatever_arrives(hardened: Server) -> None:
    warm = {"model": "gemma-3-270m", "messages": [{"role": "user", "content": "hi"}]}
    assert httpx.post(hardened.base + CHAT, json=warm, timeout=120).status_code == 200
    assert _too_much_text(hardened) == 400  # warm the paths under test too
    baseline = _rss(hardened.proc.pid)
    with _peak(hardened.proc.pid) as peak, ThreadPoolExecutor(8) as pool:
        abandoned = [pool.submit(_abandon, hardened, declared=d) for d in (True, False, False)]
        declared = [pool.submit(_big_declared, hardened) for _ in range(2)]
        text = [pool.submit(_too_much_text, hardened) for _ in range(2)]
        for future in abandoned:
            future.result()
        assert [f.result() for f in declared] == [413, 413]
        assert [f.result() for f in text] == [400, 400]
    growth = peak[0] - baseline
    print(f"peak growth {growth / 2**20:.1f} MiB over {baseline / 2**20:.0f} MiB")
    assert growth < BOUND, f"grew {growth / 2**20:.0f} MiB over {baseline / 2**20:.0f} MiB"
    # and the server still answers
    assert httpx.post(hardened.base + CHAT, json=warm, timeout=120).status_code == 200


def test_a_request_within_the_limits_but_heavy_to_prepare(hardened: Server) -> None:
    """The most text the limits let through is tokenized, within the memory bound."""
    chars = HARDENED_LIMITS["max_message_chars"] - 100
    message = {"role": "user", "content": "ab " * (chars // 3)}
    body = {"model": "gemma-3-270m", "messages": [message]}
    baseline = _rss(hardened.proc.pid)
    with _peak(hardened.proc.pid) as peak:
        response = httpx.post(hardened.base + "/api/paas/v4/tokenizer", json=body, timeout=120)
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["prompt_tokens"] > chars // 10
    assert peak[0] - baseline < BOUND
    assert json.loads(response.text)["usage"]["total_tokens"] > 0
