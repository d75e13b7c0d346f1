"""Shared fixtures: the real default model, and a real glmserve server process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from glmserve.engine.llama import native
from glmserve.engine.llama.weights import default_model_path

# ggml picks its CPU matmul kernels once per process, at the first engine
# (engine/llama/native.py): every in-process engine of the test session shares that choice. Fix
# it to the batch-invariant kernels, so that the tests of the opt-in invariant mode hold
# whichever engine a test happens to create first; the fast mode's own tests check its
# prefix cache and usage, which do not depend on the kernels. Server tests run their
# engines in worker processes of their own, with each model's configured kernels.
native._use_tiled_matmul(False)


@pytest.fixture(scope="session")
def gemma_gguf() -> Path:
    """The embedded default model, assembled into the user's cache on first use."""
    return default_model_path(progress=False)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``glmserve serve`` in a subprocess, as a user starts it."""

    def __init__(
        self,
        config: Path,
        log: Path,
        env: dict[str, str] | None = None,
        *,
        admin_key: str | None = None,
    ) -> None:
        self.admin_key = admin_key
        """Sent with ``health()``: /health shows the engine's pid to the admin only."""
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "glmserve",
                    "serve",
                    "--port",
                    str(self.port),
                    "--config",
                    str(config),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
            )
        self._wait_ready()

    @property
    def zai_base(self) -> str:
        return f"{self.base}/api/paas/v4/"

    def _wait_ready(self) -> None:
        for _ in range(600):  # up to about a minute
            if self.proc.poll() is not None:
                raise RuntimeError(f"glmserve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                if httpx.get(f"{self.base}/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"glmserve did not become ready:\n{self.output()}")

    def health(self) -> dict:  # type: ignore[type-arg]
        headers = {"Authorization": f"Bearer {self.admin_key}"} if self.admin_key else {}
        answer = httpx.get(f"{self.base}/health", headers=headers, timeout=10)
        return answer.json()  # type: ignore[no-any-return]

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


SERVER_ADMIN_KEY = "session-server-admin-key-0123"
"""The admin key of the ``server`` fixture (its /health shows engine pids to it)."""


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[Server]:
    """One server for the end-to-end tests: the embedded default model, plus the same
    weights served under the catalog code glm-4.7 (to show catalog defaults apply)."""
    tmp = tmp_path_factory.mktemp("server")
    config = tmp / "glmserve.toml"
    # Open access: these tests are about the API surface; tests/platform covers keys.
    config.write_text(
        "[server]\nkeepalive_seconds = 15\n\n"
        f'[platform]\nopen = true\nadmin_key = "{SERVER_ADMIN_KEY}"\n'
        f'data_dir = "{tmp / "data"}"\n\n'
        # Greedy answers are compared across runs and under concurrent load: the opt-in
        # batch-invariant mode keeps them bitwise stable (docs/architecture.md).
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gemma_gguf}"\ncontext_size = 2048\n'
        "batch_invariant = true\n\n"
        # one sequence at a time and no queue: the second request at once gets 1312
        f'[[models]]\ncode = "tiny-queue"\ngguf = "{gemma_gguf}"\ncontext_size = 512\n'
        'max_running = 1\nqueue_limit = 0\nprompt_format = "transcript"\n\n'
        # a model whose engine process the crash test kills
        f'[[models]]\ncode = "crash-test"\ngguf = "{gemma_gguf}"\ncontext_size = 512\n'
        'max_running = 2\nprompt_format = "transcript"\n\n'
        # the embedded default model (still served last, as by default)
        '[[models]]\ncode = "gemma-3-270m"\nbatch_invariant = true\n'
    )
    srv = Server(config, tmp / "server.log", admin_key=SERVER_ADMIN_KEY)
    yield srv
    srv.stop()
