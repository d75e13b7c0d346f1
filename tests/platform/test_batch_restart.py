"""A batch survives its gateway: SIGKILL while it runs, start again, it completes with
every request exactly once (in the output and in the ledger)."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path

from glmserve.store import open_repository
from tests.platform.batch_helpers import (
    batch_config,
    chat_lines,
    client,
    jsonl,
    read_jsonl,
    wait_for,
)
from tests.platform.gateway import Gateway

LINES = 4


def test_a_batch_resumes_after_the_gateway_is_killed(tmp_path: Path, gemma_gguf: Path) -> None:
    # One line at a time, and a short lease so the restarted gateway takes it up soon.
    config = batch_config(
        tmp_path / "glmserve.toml",
        gemma_gguf,
        tmp_path / "data",
        batches="concurrency = 1\nlease_seconds = 2",
    )
    first = Gateway(config, tmp_path / "first.log")
    try:
        key = first.create_key("V0")
        zc = client(first.zai_base, key)
        uploaded = zc.files.create(file=("r.jsonl", jsonl(chat_lines(LINES, 12))), purpose="batch")
        batch = zc.batches.create(input_file_id=uploaded.id, endpoint="/v4/chat/completions")
        running = wait_for(zc, batch.id, until=lambda b: b.request_counts.completed >= 1)
        assert running.status == "in_progress" and running.request_counts.completed < LINES
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(30)
    finally:
        first.stop()

    second = Gateway(config, tmp_path / "second.log")
    try:
        zc = client(second.zai_base, key)
        done = wait_for(zc, batch.id)
        assert done.status == "completed", second.output()[-3000:]
        assert (done.request_counts.completed, done.request_counts.failed) == (LINES, 0)
        output = read_jsonl(zc.files.content(done.output_file_id).content)
        assert Counter(r["custom_id"] for r in output) == {f"req-{i}": 1 for i in range(LINES)}
    finally:
        second.stop()

    repo = open_repository(f"sqlite:///{tmp_path / 'data' / 'glmserve.db'}")
    try:
        records = [r for r in repo.usage_records() if r.kind == "batch"]
    finally:
        repo.close()
    assert sorted(r.record_id for r in records) == sorted(r["id"] for r in output)
