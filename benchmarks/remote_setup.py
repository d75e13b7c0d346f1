"""What the remote-engine benchmarks share: llama-server replicas of the default model,
glmserve in front of them (``engine = "remote"``, open access) and its per-worker series
from ``/metrics``.

The replicas come from the test fixtures (``tests/support/workers.py``:
``llama_server_worker``, the binary of ``benchmarks/build_llama_server.sh --cache``);
glmserve is ``glmserve serve --config FILE`` in a subprocess, as a user starts it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.workers import Worker, free_port, llama_server_worker  # noqa: E402

from glmserve.engine.llama.weights import default_model_path  # noqa: E402

__all__ = [
    "MODEL",
    "cpu_seconds",
    "Gateway",
    "Worker",
    "default_model_path",
    "free_port",
    "gateway",
    "llama_server_worker",
    "machine",
    "worker_series",
]

MODEL = "gemma-3-270m"


class Gateway:
    """A running ``glmserve serve`` in front of remote workers."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.base = f"http://127.0.0.1:{port}"
        self.zai_base = f"{self.base}/api/paas/v4"
        self.log = log

    def output(self, tail: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-tail:]


def _config(
    tmp: Path, workers: Sequence[str], routing: str, context: int, prompt_log: Path | None
) -> Path:
    server = f'prompt_log = "{prompt_log}"\n' if prompt_log else ""
    text = (
        f"[server]\ndefault_model = false\n{server}\n"
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "{MODEL}"\nengine = "remote"\n'
        f'tokenizer = "{default_model_path()}"\ncontext_size = {context}\n'
        f'routing = "{routing}"\n'
    )
    for url in workers:
        text += f'[[models.workers]]\nurl = "{url}"\nkind = "llama-server"\n'
    path = tmp / "glmserve.toml"
    path.write_text(text)
    return path


@contextmanager
def gateway(
    tmp: Path,
    workers: Sequence[str],
    *,
    routing: str = "prefix",
    context: int = 2048,
    prompt_log: Path | None = None,
) -> Iterator[Gateway]:
    """glmserve serving ``MODEL`` from ``workers`` (llama-server base URLs); ``context``
    is the workers' per-slot context."""
    tmp.mkdir(parents=True, exist_ok=True)
    config = _config(tmp, workers, routing, context, prompt_log)
    port = free_port()
    log = tmp / "glmserve.log"
    glmserve = Path(sys.executable).parent / "glmserve"
    cmd = [str(glmserve), "serve", "--config", str(config), "--port", str(port)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--log-level", "warning"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    gw = Gateway(proc, port, log)
    try:
        _wait_ready(gw)
        yield gw
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(gw: Gateway, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gw.proc.poll() is not None:
            raise RuntimeError(f"glmserve exited with {gw.proc.returncode}:\n{gw.output()}")
        try:
            if httpx.get(f"{gw.base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"glmserve not ready after {timeout:.0f} s:\n{gw.output()}")


def worker_series(text: str, name: str) -> dict[str, float]:
    """``glmserve_worker_<name>`` per worker URL from a /metrics page (counters: the
    ``_total`` sample)."""
    wanted = {f"glmserve_worker_{name}", f"glmserve_worker_{name}_total"}
    return {
        s.labels["worker"]: s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name in wanted and s.labels.get("model") == MODEL
    }


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0]
    return f"{cpu}, nproc {os.cpu_count()}, load average {load:.2f}"
