"""A real ``glmserve serve`` with API keys required, and helpers to drive its admin API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import Server

ADMIN_KEY = "admin-key-for-the-tests-0123456789"
# Shared by gateways of one deployment, so a key made on one works on all.
SECRET_KEY = "master-secret-for-the-tests-0123456789abcdef"


def write_config(
    path: Path,
    gguf: Path,
    data_dir: Path,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    task_workers: int = 2,
    extra: str = "",
) -> Path:
    lines = [
        "[server]",
        "keepalive_seconds = 15",
        "[platform]",
        f'data_dir = "{data_dir}"',
        f'admin_key = "{ADMIN_KEY}"',
        f'secret_key = "{SECRET_KEY}"',
        f"task_workers = {task_workers}",
    ]
    if database_url:
        lines.append(f'database_url = "{database_url}"')
    if redis_url:
        lines.append(f'redis_url = "{redis_url}"')
    lines += [extra, "[[models]]", 'code = "glm-4.7"', f'gguf = "{gguf}"', "context_size = 2048"]
    path.write_text("\n".join(lines) + "\n")
    return path


class Gateway(Server):
    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        return httpx.request(method, f"{self.base}/admin{path}", headers=headers, timeout=30, **kw)

    def create_key(self, tier: str = "V0", balance: str | None = None) -> str:
        body: dict[str, Any] = {"name": f"test-{tier}", "tier": tier}
        if balance is not None:
            body["balance"] = balance
        r = self.admin("POST", "/keys", json=body)
        assert r.status_code == 200, r.text
        key: str = r.json()["api_key"]
        return key

    def usage(self, key: str, settled: int) -> dict[str, Any]:
        """The key's usage totals, once ``settled`` requests are in the ledger (the record
        is written just after the response ends)."""
        key_id = key.split(".")[0]
        for _ in range(300):  # bounded: about 30 s
            rows = self.admin("GET", "/usage", params={"key": key_id}).json()["data"]
            total = {
                field: sum(r[field] for r in rows)
                for field in (
                    "requests",
                    "errors",
                    "cancelled",
                    "prompt_tokens",
                    "cached_tokens",
                    "completion_tokens",
                )
            }
            if total["requests"] >= settled:
                total["cost"] = sum(float(r["cost"]) for r in rows)
                return total
            time.sleep(0.1)
        raise AssertionError(f"the ledger never reached {settled} requests: {rows}")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}
