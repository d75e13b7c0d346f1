"""Helpers of the batch tests: a keyed gateway for batches, JSONL files, polling."""

from __future__ import annotations

import io
import json
import os
import time
from pathlib import Path
from typing import Any

from zai import ZaiClient

from tests.platform.gateway import ADMIN_KEY, SECRET_KEY

__all__ = ["batch_config", "chat_lines", "jsonl", "wait_for", "client", "CHAT_LINES"]

CHAT_LINES = int(os.environ.get("GLMSERVE_TEST_BATCH_LINES", "5"))
"""Chat requests in the end-to-end batch (raise it for a longer run)."""

TERMINAL = ("completed", "failed", "expired", "cancelled")


def batch_config(
    path: Path, gguf: Path, data_dir: Path, *, batches: str = "", files: str = ""
) -> Path:
    lines = [
        "[server]",
        "keepalive_seconds = 15",
        "[platform]",
        f'data_dir = "{data_dir}"',
        f'admin_key = "{ADMIN_KEY}"',
        f'secret_key = "{SECRET_KEY}"',
        "[batches]",
        "idle_ms = 50",
        batches,
        "[files]",
        files,
        "[[models]]",
        'code = "glm-4.7"',
        f'gguf = "{gguf}"',
        "context_size = 2048",
        # Batch lines run beside interactive ones: greedy output must not depend on it.
        "batch_invariant = true",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def chat_body(i: int, max_tokens: int = 6) -> dict[str, Any]:
    return {
        "model": "glm-4.7",
        "messages": [{"role": "user", "content": f"Name a colour. Request {i}."}],
        "max_tokens": max_tokens,
        "do_sample": False,
    }


def chat_lines(count: int, max_tokens: int = 6) -> list[dict[str, Any]]:
    return [
        {
            "custom_id": f"req-{i}",
            "method": "POST",
            "url": "/v4/chat/completions",
            "body": chat_body(i, max_tokens),
        }
        for i in range(count)
    ]


def jsonl(lines: list[Any]) -> io.BytesIO:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    return io.BytesIO(text.encode())


def client(base: str, key: str) -> ZaiClient:
    return ZaiClient(api_key=key, base_url=base, max_retries=0, timeout=120)


def wait_for(zai: ZaiClient, batch_id: str, seconds: float = 600, until: Any = None) -> Any:
    """Poll until the batch is terminal (or ``until(batch)`` holds); bounded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        batch = zai.batches.retrieve(batch_id)
        if until(batch) if until else batch.status in TERMINAL:
            return batch
        time.sleep(0.3)
    raise AssertionError(f"batch {batch_id} did not get there: {batch}")


def read_jsonl(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.strip()]
