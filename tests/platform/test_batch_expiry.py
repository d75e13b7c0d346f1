"""A batch whose 24 hours have passed ends ``expired``: the platform's batch workers on a
real database and a real file store (no line runs, so no engine is needed)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glmserve.config.batches import BatchSettings, FileSettings
from glmserve.platform.auth import Principal
from glmserve.platform.batches import Batches, LineOutcome
from glmserve.platform.files import Files
from glmserve.platform.filestore import LocalStore
from glmserve.platform.usage import Ledger
from glmserve.store import open_repository


class _NoLineMayRun:
    async def run(
        self, endpoint: str, body: dict[str, Any], key_id: str, may_start: Callable[[], bool]
    ) -> LineOutcome | None:
        raise AssertionError("a line of an expired batch was started")


async def test_an_expired_batch_keeps_nothing_running(tmp_path: Path) -> None:
    repo = open_repository(f"sqlite:///{tmp_path / 'db.sqlite'}")
    files = Files(repo, LocalStore(tmp_path / "files"), FileSettings())
    batches = Batches(repo, files, _NoLineMayRun(), Ledger(repo), BatchSettings(idle_ms=0))
    caller = Principal("k1")
    lines = [
        {"custom_id": f"c{i}", "url": "/v4/chat/completions", "body": {"model": "m"}}
        for i in range(3)
    ]
    data = "\n".join(json.dumps(line) for line in lines).encode() + b"\nnot json\n"
    uploaded = await files.upload(caller, "in.jsonl", "batch", data)
    created = await batches.create(
        caller, {"input_file_id": uploaded["id"], "endpoint": "/v4/chat/completions"}
    )
    # Its window closed before any worker took it up.
    repo.update_batch(created["id"], {"expires_at": created["created_at"] - 1})
    await batches.start()
    try:
        for _ in range(200):
            body = await batches.retrieve(caller, created["id"])
            if body["status"] == "expired":
                break
            await asyncio.sleep(0.05)
    finally:
        await batches.stop()
    assert body["status"] == "expired" and body["expired_at"] is not None
    assert body["request_counts"] == {"total": 4, "completed": 0, "failed": 1}
    assert body["output_file_id"] == ""
    _, reader = await files.content(caller, body["error_file_id"])
    content = b"".join(iter(lambda: reader.read(65536), b""))
    reader.close()
    errors = [json.loads(line) for line in content.decode().splitlines()]
    assert [e["custom_id"] for e in errors] == ["c0", "c1", "c2", None]
    assert [e["error"]["code"] for e in errors] == ["batch_expired"] * 3 + ["1210"]
    repo.close()
