"""What a keyed server shows and keeps, through HTTP: file names of any script, downloads
streamed within a memory bound, uploads cut at the limit, keyless dripping connections
closed, JWTs that do not tell which key ids exist, private file modes, and the routes
that say too much to strangers (/health, /metrics, /docs, the access log)."""

from __future__ import annotations

import json
import select
import socket
import stat
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import jwt
import pytest
from zai import ZaiClient

from glmserve.errors import FileTooLarge
from tests.e2e.test_memory_bound import _peak, _rss
from tests.platform.gateway import ADMIN_KEY, SECRET_KEY, Gateway, auth

MAX_BYTES = 24 * 1024 * 1024
BODY_SECONDS = 2.0
FILES = "/api/paas/v4/files"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("exposure")
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\nkeepalive_seconds = 15\n"
        f'[platform]\ndata_dir = "{tmp / "data"}"\nadmin_key = "{ADMIN_KEY}"\n'
        f'secret_key = "{SECRET_KEY}"\nadmin_metrics = true\n'
        f"[http]\nbody_timeout_seconds = {BODY_SECONDS}\nheader_timeout_seconds = 2.0\n"
        f"[files]\nmax_bytes = {MAX_BYTES}\n"
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gemma_gguf}"\ncontext_size = 1024\n'
    )
    server = Gateway(config, tmp / "server.log", admin_key=ADMIN_KEY)
    server.data_dir = tmp / "data"  # type: ignore[attr-defined]
    yield server
    server.stop()


def _upload(gateway: Gateway, key: str, name: str, data: bytes) -> str:
    r = httpx.post(
        gateway.base + FILES,
        headers=auth(key),
        files={"file": (name, data, "application/jsonl")},
        data={"purpose": "batch"},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    file_id: str = r.json()["id"]
    return file_id


# -- files ------------------------------------------------------------------------------


def test_a_file_with_a_chinese_name_downloads(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    line = json.dumps({"custom_id": "1", "method": "POST", "url": "/v4/chat/completions"})
    file_id = _upload(gateway, key, "请求.jsonl", line.encode() + b"\n")
    r = httpx.get(f"{gateway.base}{FILES}/{file_id}/content", headers=auth(key), timeout=60)
    assert r.status_code == 200, r.text
    assert r.content == line.encode() + b"\n"
    disposition = r.headers["content-disposition"]
    assert "filename*=UTF-8''%E8%AF%B7%E6%B1%82.jsonl" in disposition
    assert disposition.startswith('attachment; filename="') and disposition.isascii()
    # and through the SDK
    got = ZaiClient(api_key=key, base_url=gateway.zai_base).files.content(file_id)
    assert got.content == line.encode() + b"\n"


def test_concurrent_downloads_of_large_files_stay_within_memory(gateway: Gateway) -> None:
    # V1: its 10 concurrent requests admit the 8 downloads (file routes are admitted)
    key = gateway.create_key("V1")
    size = MAX_BYTES - 1024
    data = (b'{"custom_id": "x"}\n' * (size // 19 + 1))[:size]
    file_id = _upload(gateway, key, "large.jsonl", data)
    url = f"{gateway.base}{FILES}/{file_id}/content"

    def download() -> int:
        got = 0
        with httpx.stream("GET", url, headers=auth(key), timeout=120) as r:
            assert r.status_code == 200
            for piece in r.iter_bytes():
                got += len(piece)
        return got

    assert download() == size  # warm the path
    baseline = _rss(gateway.proc.pid)
    with _peak(gateway.proc.pid) as peak, ThreadPoolExecutor(8) as pool:
        sizes = list(pool.map(lambda _: download(), range(8)))
    assert sizes == [size] * 8
    growth = peak[0] - baseline
    print(f"peak growth {growth / 2**20:.1f} MiB for 8 downloads of {size / 2**20:.0f} MiB")
    # Held whole, 8 downloads would need 8 files in memory; streamed, much less than one.
    assert growth < size, f"grew {growth / 2**20:.0f} MiB"


def test_a_chunked_upload_is_cut_at_the_limit(gateway: Gateway) -> None:
    """More than the limit arrives, chunked (no length to refuse it by), and the client
    then waits: the refusal must come from what was read, not from the end of the body."""
    key = gateway.create_key("V0")
    boundary = "edgeboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jsonl"\r\n'
        "Content-Type: application/jsonl\r\n\r\n"
    ).encode()
    request = (
        f"POST {FILES} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {key}\r\n"
        f"content-type: multipart/form-data; boundary={boundary}\r\n"
        "transfer-encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"a" * 65536
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=120) as sock:
        sock.sendall(request + _chunk(head))
        sent = 0
        while sent <= MAX_BYTES + 128 * 1024:
            sock.sendall(_chunk(piece))
            sent += len(piece)
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered already
        # No more body: the server answers from what it has read (a server that waits
        # for the body's end answers 408 at the body deadline instead).
        answer = _read_response(sock)
    # The answer to a file over the limit (Z.AI's HTTP status for it), not the 408 of a
    # body that stopped coming.
    assert answer.startswith(f"HTTP/1.1 {FileTooLarge.status}".encode()), answer[:200]
    assert b"larger than" in answer


def _chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def _read_response(sock: socket.socket) -> bytes:
    """The head and the body (by its content-length) of the one response."""
    data = b""
    while b"\r\n\r\n" not in data or len(data) < _expected(data):
        got = sock.recv(65536)
        if not got:
            break
        data += got
    return data


def _expected(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(head) + 4


# -- slow clients without a key ---------------------------------------------------------


def test_keyless_dripping_connections_are_closed(gateway: Gateway) -> None:
    """Answered 401 before its body is read, a request whose body drips a byte at a time
    is closed at the body deadline, not kept open for as long as the bytes come."""
    drip_bound = 60.0  # how long the test drips at most (far past the deadline)
    outcomes: list[str] = []

    def drip() -> None:
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
            sock.sendall(
                b"POST /api/paas/v4/chat/completions HTTP/1.1\r\nhost: x\r\n"
                b"content-type: application/json\r\ncontent-length: 100000\r\n\r\n{"
            )
            end = time.monotonic() + drip_bound
            while time.monotonic() < end:
                try:
                    sock.sendall(b" ")
                    if select.select([sock], [], [], 0.5)[0] and not sock.recv(65536):
                        outcomes.append("closed")
                        return
                except OSError:
                    outcomes.append("closed")  # reset: the server closed it
                    return
            outcomes.append("still open")

    threads = [threading.Thread(target=drip) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["closed"] * 4


# -- JWT ---------------------------------------------------------------------------------


def _jwt(key_id: str, secret: str, lifetime_ms: int = 180_000) -> str:
    now = int(time.time() * 1000)
    payload = {"api_key": key_id, "exp": now + lifetime_ms, "timestamp": now}
    headers = {"alg": "HS256", "sign_type": "SIGN"}
    return jwt.encode(payload, secret, algorithm="HS256", headers=headers)


def _files(gateway: Gateway, token: str) -> httpx.Response:
    return httpx.get(gateway.zai_base + "files", headers=auth(token), timeout=30)


def test_unknown_key_ids_and_bad_signatures_are_answered_alike(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    key_id, secret = key.split(".")
    assert _files(gateway, _jwt(key_id, secret)).status_code == 200
    bad_signature = _files(gateway, _jwt(key_id, "f" * 32))
    unknown_id = _files(gateway, _jwt("no-such-key-id", "f" * 32))
    assert bad_signature.status_code == unknown_id.status_code == 401
    assert bad_signature.json() == unknown_id.json()


def test_a_jwt_may_not_live_longer_than_the_sdk_makes_them(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    key_id, secret = key.split(".")
    year = _files(gateway, _jwt(key_id, secret, lifetime_ms=365 * 24 * 3600 * 1000))
    assert year.status_code == 401 and year.json()["error"]["code"] == "1002", year.text
    assert "lives too long" in year.json()["error"]["message"]
    # zai-sdk's own tokens (210 s) are accepted
    sdk = ZaiClient(api_key=key, base_url=gateway.zai_base, disable_token_cache=False)
    assert sdk.files.list().data == []


# -- files on disk ----------------------------------------------------------------------


def test_the_database_and_the_data_dir_are_private(gateway: Gateway) -> None:
    data_dir: Path = gateway.data_dir  # type: ignore[attr-defined]
    key = gateway.create_key("V0")
    _upload(gateway, key, "private.jsonl", b'{"custom_id": "p"}\n')
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "files").stat().st_mode) == 0o700
    for name in ("glmserve.db", "glmserve.db-wal", "glmserve.db-shm", "secret.key"):
        path = data_dir / name
        if path.exists() or name == "glmserve.db":
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name


# -- what strangers are told ------------------------------------------------------------


def test_health_shows_the_engine_pid_to_the_admin_only(gateway: Gateway) -> None:
    plain = httpx.get(gateway.base + "/health", timeout=30).json()
    admin = httpx.get(gateway.base + "/health", headers=auth(ADMIN_KEY), timeout=30).json()
    assert plain["status"] == admin["status"] == "ok"
    assert all("pid" not in m for m in plain["models"])
    assert all(isinstance(m["pid"], int) for m in admin["models"])
    # the console's status: the same for an API key (the engine is up, no pid)
    key = gateway.create_key("V0")
    console = "/console/api/status"
    tenant = httpx.get(gateway.base + console, headers=auth(key), timeout=30).json()["data"]
    operator = httpx.get(gateway.base + console, headers=auth(ADMIN_KEY), timeout=30).json()
    assert all(m["up"] and "pid" not in m["stats"] for m in tenant)
    assert all(isinstance(m["stats"]["pid"], int) for m in operator["data"])


def test_metrics_need_the_admin_key_when_configured(gateway: Gateway) -> None:
    refused = httpx.get(gateway.base + "/metrics", timeout=30)
    assert refused.status_code == 401, refused.text
    key = gateway.create_key("V0")
    assert httpx.get(gateway.base + "/metrics", headers=auth(key), timeout=30).status_code == 401
    allowed = httpx.get(gateway.base + "/metrics", headers=auth(ADMIN_KEY), timeout=30)
    assert allowed.status_code == 200 and "glmserve_" in allowed.text


def test_the_docs_page_runs_no_script(gateway: Gateway) -> None:
    r = httpx.get(gateway.base + "/docs", timeout=30)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "<script" not in r.text.lower() and "cdn" not in r.text.lower()
    assert "/api/paas/v4/chat/completions" in r.text and "/openapi.json" in r.text
    assert "default-src 'none'" in r.headers["content-security-policy"]


def test_a_key_in_a_query_string_is_not_logged(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    secret = key.split(".")[1]
    r = httpx.get(f"{gateway.base}{FILES}", params={"api_key": key}, headers=auth(key), timeout=30)
    assert r.status_code == 200
    marker = f"{FILES}?api_key=[redacted]"
    deadline = time.monotonic() + 30
    while marker not in gateway.output() and time.monotonic() < deadline:
        time.sleep(0.1)  # the access line is written just after the response
    assert marker in gateway.output()
    assert secret not in gateway.output()
