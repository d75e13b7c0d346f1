"""Poison batches end once, on SQLite and PostgreSQL (docs/limits.md, "Batches").

A line with a lone surrogate escape, deep nesting, a NUL or a model name longer than the
ledger keeps used to leave its batch stuck: validated again and again, or its line run
again every second. Each is now an error line, the batch completes, and the other lines
run. A file with more requests than a batch may is refused after reading one too many,
and a key has at most ``max_open_per_key`` unfinished batches.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from zai import ZaiClient
from zai.core import APIStatusError

from tests.platform.batch_helpers import chat_lines, client, jsonl, wait_for
from tests.platform.gateway import Gateway, write_config


def _gateway(tmp: Path, gguf: Path, database_url: str | None, batches: str) -> Gateway:
    extra = f"[batches]\nidle_ms = 50\n{batches}"
    config = write_config(
        tmp / "glmserve.toml", gguf, tmp / "data", database_url=database_url, extra=extra
    )
    return Gateway(config, tmp / "server.log")


@pytest.fixture
def gateway(database_url: str, tmp_path: Path, gemma_gguf: Path) -> Iterator[Gateway]:
    gw = _gateway(tmp_path, gemma_gguf, database_url, "max_lines = 20")
    yield gw
    gw.stop()


def _zai(gw: Gateway) -> ZaiClient:
    return client(gw.zai_base, gw.create_key("V3"))


def _line(custom_id: str, body: str) -> str:
    return f'{{"custom_id": {custom_id}, "url": "/v4/chat/completions", "body": {body}}}'


GOOD = json.dumps(chat_lines(1, max_tokens=2)[0]["body"])
HI = '"messages": [{"role": "user", "content": "Hi"}]'
LONG_MODEL = json.dumps({"model": "m" * 300, "messages": [{"role": "user", "content": "Hi"}]})
POISON = [
    _line(
        '"surrogate"', '{"model": "glm-4.7", "messages": [{"role": "user", "content": "\\ud800"}]}'
    ),
    _line('"surrogate key"', '{"model": "glm-4.7", "\\udfff": 1, "messages": []}'),
    _line('"deep"', "[" * 80 + "]" * 80),
    _line('"very deep"', '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    _line('"nul\\u0000id"', GOOD),
    _line('"nul model"', '{"model": "glm\\u0000-4.7", ' + HI + "}"),
    _line('"long model"', LONG_MODEL),
]


def test_poison_lines_fail_once_and_the_batch_completes(gateway: Gateway) -> None:
    zai = _zai(gateway)
    lines = [_line('"ok"', GOOD), *POISON]
    upload = zai.files.create(file=("poison.jsonl", jsonl(lines)), purpose="batch")
    batch = zai.batches.create(
        input_file_id=upload.id, endpoint="/v4/chat/completions", completion_window="24h"
    )
    done = wait_for(zai, batch.id, seconds=300)
    assert done.status == "completed", done
    assert (done.request_counts.completed, done.request_counts.failed) == (1, len(POISON))
    errors = _errors(zai, done.error_file_id)
    by_id = {e["custom_id"]: e for e in errors}
    # the stored-string checks answer these lines 1214 naming the model, before they run
    for name in ("nul model", "long model"):
        error = by_id[name]["response"]["body"]["error"]
        assert error["code"] == "1214" and "model" in error["message"], by_id[name]
    refused = [e for e in errors if e["response"] is None]
    assert len(refused) == len(POISON) - 2
    assert all(e["error"]["code"] == "1214" for e in refused)
    assert "failed unexpectedly" not in gateway.output()
    assert "Traceback" not in gateway.output()


def _errors(zai: ZaiClient, file_id: str | None) -> list[dict[str, Any]]:
    assert file_id is not None
    text = zai.files.content(file_id).content.decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_a_file_over_max_lines_fails_once_read_that_far(gateway: Gateway) -> None:
    zai = _zai(gateway)
    upload = zai.files.create(file=("many.jsonl", jsonl(chat_lines(21))), purpose="batch")
    batch = zai.batches.create(
        input_file_id=upload.id, endpoint="/v4/chat/completions", completion_window="24h"
    )
    done = wait_for(zai, batch.id, seconds=120)
    assert done.status == "failed"
    assert "more than 20 requests" in done.errors.data[0].message


def _peak_rss_kb(pid: int) -> int:
    """The highest resident memory the server process has had, from /proc (VmHWM)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))


def test_a_30_mb_file_is_read_without_growing_the_server(tmp_path: Path, gemma_gguf: Path) -> None:
    gw = _gateway(tmp_path, gemma_gguf, None, "max_lines = 50000")
    try:
        zai = _zai(gw)
        line = '{"custom_id": "%07d", "url": "/v4/chat/completions", "body": {"model": "glm-4.7"}}'
        count = 30 * 1024 * 1024 // len(line % 0)
        data = "\n".join(line % i for i in range(count)).encode()
        upload = zai.files.create(file=("big.jsonl", data), purpose="batch")
        before = _peak_rss_kb(gw.proc.pid)
        batch = zai.batches.create(
            input_file_id=upload.id, endpoint="/v4/chat/completions", completion_window="24h"
        )
        done = wait_for(zai, batch.id, seconds=300)
        grown_mb = (_peak_rss_kb(gw.proc.pid) - before) / 1024
        assert done.status == "failed"
        assert "more than 50000 requests" in done.errors.data[0].message
        # the file and 50,001 parsed lines at most, not all of its lines parsed
        assert grown_mb < 200, f"the server's peak memory grew by {grown_mb:.0f} MB"
    finally:
        gw.stop()


def test_a_key_has_at_most_max_open_per_key_unfinished_batches(
    tmp_path: Path, gemma_gguf: Path
) -> None:
    # no batch worker on this gateway: every batch stays "validating"
    gw = _gateway(tmp_path, gemma_gguf, None, "workers = 0\nmax_open_per_key = 2")
    try:
        zai = _zai(gw)
        upload = zai.files.create(file=("one.jsonl", jsonl(chat_lines(1))), purpose="batch")
        create = {"input_file_id": upload.id, "endpoint": "/v4/chat/completions"}
        for _ in range(2):
            zai.batches.create(**create, completion_window="24h")
        with pytest.raises(APIStatusError) as refused:
            zai.batches.create(**create, completion_window="24h")
        assert refused.value.status_code == 429
        assert "1302" in str(refused.value)
        other = _zai(gw)  # another key is not held back by this one's batches
        mine = other.files.create(file=("one.jsonl", jsonl(chat_lines(1))), purpose="batch")
        other.batches.create(
            input_file_id=mine.id, endpoint="/v4/chat/completions", completion_window="24h"
        )
    finally:
        gw.stop()
