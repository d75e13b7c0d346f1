"""Real worker servers for the remote engine's tests: vLLM on CPU and llama.cpp's llama-server.

    with vllm_worker(tiny_glm_moe_dir()) as worker:        # worker.base = http://127.0.0.1:PORT
        httpx.post(f"{worker.base}/v1/completions", json={"model": worker.model, ...})

    with llama_server_worker(gguf, parallel=2) as worker:
        httpx.post(f"{worker.base}/completion", json={"prompt": [1, 2, 3], ...})

Each starts the server on 127.0.0.1 (a free port unless one is given) in a process group
of its own, logs to a file (``worker.log``; the log's tail is in every error), waits for
``/health``, and on exit stops the whole group (SIGTERM, then SIGKILL after 30 s).

The servers come from the project's own install scripts, cached outside the repository:
``scripts/install-vllm.sh`` (a virtualenv of about 3 GB, a few minutes on first use) and
``benchmarks/build_llama_server.sh --cache`` (a compile of 5-10 minutes on first use).
``make test`` runs both before pytest (the Makefile's ``workers`` target); when pytest
runs alone they run here, on first use.

A worker that cannot be had (the install or build fails) fails the test, unless
``GLMSERVE_TEST_WORKERS=optional``: then nothing is installed or built, and a worker that
is not already there skips the test with the reason. ``GLMSERVE_TEST_SERVICES=required``
(set by ``.ci/run``) always makes it a failure.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import httpx
import pytest

__all__ = [
    "Worker",
    "llama_server_binary",
    "llama_server_worker",
    "vllm_venv",
    "vllm_worker",
    "worker_unavailable",
]

ROOT = Path(__file__).resolve().parents[2]
INSTALL_VLLM = ROOT / "scripts" / "install-vllm.sh"
BUILD_LLAMA_SERVER = ROOT / "benchmarks" / "build_llama_server.sh"


def _optional() -> bool:
    return (
        os.environ.get("GLMSERVE_TEST_WORKERS") == "optional"
        and os.environ.get("GLMSERVE_TEST_SERVICES") != "required"
    )


def worker_unavailable(what: str, why: str) -> NoReturn:
    if _optional():
        pytest.skip(f"{what} is not available (GLMSERVE_TEST_WORKERS=optional): {why}")
    pytest.fail(f"{what} is required but not available: {why}", pytrace=False)


def _installed(what: str, script: list[str], ready: Path | None = None) -> Path:
    """The path a cached install script prints, running it only when allowed to."""
    if _optional():
        where = subprocess.run([*script, "--path"], capture_output=True, text=True, check=True)
        path = Path(where.stdout.strip())
        if (path / ready if ready else path).exists():
            return path
        worker_unavailable(what, f"not installed ({path}); `make workers` installs it")
    done = subprocess.run(script, capture_output=True, text=True)
    if done.returncode != 0:
        worker_unavailable(what, f"{' '.join(script)} failed:\n{done.stderr[-4000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


def vllm_venv() -> Path:
    """The cached vLLM virtualenv (scripts/install-vllm.sh)."""
    return _installed("vLLM", [str(INSTALL_VLLM)], ready=Path(".glmserve-ready"))


def llama_server_binary() -> Path:
    """llama-server built from the llama.cpp llama-cpp-python vendors, in the user's cache."""
    return _installed("llama-server", [str(BUILD_LLAMA_SERVER), "--cache"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Worker:
    """A running worker server."""

    kind: str  # "vllm" or "llama-server"
    base: str  # http://127.0.0.1:PORT
    port: int
    model: str  # the name it serves (the request's "model")
    log: Path
    proc: subprocess.Popen[bytes]

    def output(self, tail: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-tail:]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30) -> None:
        """Stops the worker and every process it started (vLLM runs its engine apart)."""
        if self.proc.poll() is None:
            _signal_group(self.proc, signal.SIGTERM)
            with suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        _signal_group(self.proc, signal.SIGKILL)  # children left behind by a clean exit
        self.proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    # The worker leads a session of its own (start_new_session), so its id is the group's.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _start(
    kind: str, cmd: Sequence[str], port: int, model: str, log: Path | None, env: dict[str, str]
) -> Worker:
    if log is None:
        log = Path(tempfile.mkdtemp(prefix=f"glmserve-{kind}-")) / f"{kind}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        out.write(("$ " + " ".join(cmd) + "\n").encode())
        out.flush()
        proc = subprocess.Popen(
            list(cmd),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
            start_new_session=True,
        )
    return Worker(kind, f"http://127.0.0.1:{port}", port, model, log, proc)


def _wait_healthy(worker: Worker, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not worker.alive():
            raise RuntimeError(
                f"{worker.kind} exited with {worker.proc.returncode} while starting "
                f"(log {worker.log}):\n{worker.output()}"
            )
        try:
            if httpx.get(f"{worker.base}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    worker.stop()
    raise RuntimeError(
        f"{worker.kind} not healthy after {timeout:.0f} s (log {worker.log}):\n{worker.output()}"
    )


@contextmanager
def _running(worker: Worker, timeout: float) -> Iterator[Worker]:
    try:
        _wait_healthy(worker, timeout)
        yield worker
    finally:
        worker.stop()


@contextmanager
def vllm_worker(
    model_dir: Path,
    port: int | None = None,
    *,
    model: str = "tiny-glm-moe",
    max_model_len: int = 2048,
    kv_cache_gib: int = 1,
    log: Path | None = None,
    extra_args: Sequence[str] = (),
    warm_up: bool = True,
    start_timeout: float = 600,
) -> Iterator[Worker]:
    """``vllm serve model_dir`` from the cached virtualenv, as glmserve expects a vLLM
    worker to be started (docs/deployment.md): prompt-token details on (so usage carries
    ``cached_tokens``), prefix caching on (vLLM's default), the scale-out endpoints on
    (the generate endpoint for images, and the abort call for every request), eager mode
    (half the start-up time on CPU). Start-up takes about a minute here; with
    ``warm_up`` a one-token completion runs before the worker is handed over, so the
    first test is not slow."""
    venv = vllm_venv()
    port = port or free_port()
    cmd = [
        str(venv / "bin" / "vllm"),
        "serve",
        str(model_dir),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--served-model-name", model,
        "--max-model-len", str(max_model_len),
        "--enforce-eager",
        "--enable-prompt-tokens-details",
        "--enable-prefix-caching",
        "--enable-scale-out",
        "--dtype", "float32",
        *extra_args,
    ]  # fmt: skip
    env = {
        "VLLM_CPU_KVCACHE_SPACE": str(kv_cache_gib),  # GiB; the machine is shared
        "HF_HUB_OFFLINE": "1",
        "VLLM_NO_USAGE_STATS": "1",
        "DO_NOT_TRACK": "1",
        "PYTHONUNBUFFERED": "1",
    }
    worker = _start("vllm", cmd, port, model, log, env)
    with _running(worker, start_timeout):
        if warm_up:
            body = {"model": model, "prompt": [1, 2, 3], "max_tokens": 1}
            httpx.post(f"{worker.base}/v1/completions", json=body, timeout=300).raise_for_status()
        yield worker


@contextmanager
def llama_server_worker(
    gguf: Path,
    port: int | None = None,
    *,
    model: str = "llama-server",
    ctx_size: int = 4096,
    parallel: int = 2,
    threads: int = 2,
    log: Path | None = None,
    extra_args: Sequence[str] = (),
    start_timeout: float = 120,
) -> Iterator[Worker]:
    """llama.cpp's ``llama-server`` for ``gguf``: ``parallel`` slots sharing ``ctx_size``
    tokens of context (llama-server splits it between the slots), ``/slots`` and
    ``/metrics`` on, no web UI. The binary is built once into the user's cache."""
    binary = llama_server_binary()
    port = port or free_port()
    cmd = [
        str(binary),
        "--model", str(gguf),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--alias", model,
        "--ctx-size", str(ctx_size),
        "--parallel", str(parallel),
        "--threads", str(threads),
        "--slots",
        "--metrics",
        "--no-webui",
        *extra_args,
    ]  # fmt: skip
    worker = _start("llama-server", cmd, port, model, log, {})
    with _running(worker, start_timeout):
        yield worker
