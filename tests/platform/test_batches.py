"""Files and batches end to end: a real keyed gateway, the real engine, zai-sdk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import zai

from glmserve.catalog import builtin_spec, embedding_spec
from glmserve.store import open_repository
from tests.platform.batch_helpers import (
    CHAT_LINES,
    batch_config,
    chat_body,
    chat_lines,
    client,
    jsonl,
    read_jsonl,
    wait_for,
)
from tests.platform.gateway import Gateway, auth


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("batches")
    config = batch_config(
        tmp / "glmserve.toml",
        gemma_gguf,
        tmp / "data",
        files="max_bytes = 65536",
        batches="concurrency = 2",
    )
    server = Gateway(config, tmp / "server.log")
    server.data_dir = tmp / "data"  # type: ignore[attr-defined]
    yield server
    server.stop()


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    """A chat body without what differs between two runs of one request (ids, time,
    and how much of the prompt the prefix cache held)."""
    kept = {k: v for k, v in body.items() if k not in ("id", "request_id", "created")}
    kept["usage"] = {k: v for k, v in body["usage"].items() if k != "prompt_tokens_details"}
    return kept


def test_a_batch_of_chat_requests_end_to_end(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    zc = client(gateway.zai_base, key)
    good = chat_lines(CHAT_LINES)
    bad_url = {**chat_lines(1)[0], "custom_id": "wrong-url", "url": "/v4/embeddings"}
    lines: list[Any] = [*good[:2], "{not json", *good[2:], bad_url, {"method": "POST"}]
    bad_numbers = [3, CHAT_LINES + 2, CHAT_LINES + 3]

    uploaded = zc.files.create(file=("requests.jsonl", jsonl(lines)), purpose="batch")
    assert uploaded.purpose == "batch" and uploaded.filename == "requests.jsonl"
    created = zc.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v4/chat/completions",
        completion_window="24h",
        metadata={"job": "nightly"},
    )
    assert created.status == "validating"
    assert created.metadata == {"job": "nightly"}
    assert created.expires_at == created.created_at + 24 * 3600

    batch = wait_for(zc, created.id)
    assert batch.status == "completed", batch
    counts = batch.request_counts
    assert (counts.total, counts.completed, counts.failed) == (CHAT_LINES + 3, CHAT_LINES, 3)
    assert batch.in_progress_at and batch.finalizing_at and batch.completed_at
    assert [e.line for e in batch.errors.data] == bad_numbers
    assert [e.code for e in batch.errors.data] == ["1210", "1214", "1213"]

    output = read_jsonl(zc.files.content(batch.output_file_id).content)
    errors = read_jsonl(zc.files.content(batch.error_file_id).content)
    assert [r["custom_id"] for r in output] == [line["custom_id"] for line in good]
    assert [r["error"]["line"] for r in errors] == bad_numbers
    assert errors[1]["custom_id"] == "wrong-url"

    # Each body is what the synchronous endpoint answers for the same request.
    for line, result in zip(good, output, strict=True):
        assert result["response"]["status_code"] == 200 and result["error"] is None
        sync = httpx.post(
            f"{gateway.zai_base}chat/completions", json=line["body"], headers=auth(key), timeout=300
        )
        assert sync.status_code == 200, sync.text
        assert _comparable(result["response"]["body"]) == _comparable(sync.json())

    # The input file was deleted (auto_delete_input_file defaults to true).
    with pytest.raises(zai.core.APIStatusError) as gone:
        zc.files.content(uploaded.id)
    assert gone.value.status_code == 404

    # One ledger record per line that ran, kind "batch", at half the price.
    spec = builtin_spec("glm-4.7")
    assert spec is not None and spec.price is not None
    repo = open_repository(f"sqlite:///{gateway.data_dir / 'glmserve.db'}")  # type: ignore[attr-defined]
    try:
        records = [r for r in repo.usage_records(key.split(".")[0]) if r.kind == "batch"]
    finally:
        repo.close()
    assert sorted(r.record_id for r in records) == sorted(r["id"] for r in output)
    by_id = {r.record_id: r for r in records}
    for result in output:
        record = by_id[result["id"]]
        usage = result["response"]["body"]["usage"]
        assert record.prompt_tokens == usage["prompt_tokens"]
        assert record.completion_tokens == usage["completion_tokens"]
        cached = usage["prompt_tokens_details"]["cached_tokens"]
        full = (
            Decimal(str(spec.price.input)) * (usage["prompt_tokens"] - cached)
            + Decimal(str(spec.price.cached_input)) * cached
            + Decimal(str(spec.price.output)) * usage["completion_tokens"]
        ) * 1000  # nano-USD per token at USD per million tokens
        assert record.cost_nano == int((full / 2).quantize(Decimal(1)))
        assert record.cost_nano > 0


def test_an_embeddings_batch_answers_as_the_synchronous_endpoint(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    zc = client(gateway.zai_base, key)
    texts = ["hello", "a red bicycle", "the tide comes in twice a day"]
    lines = [
        {
            "custom_id": f"e-{i}",
            "method": "POST",
            "url": "/v4/embeddings",
            "body": {"model": "embedding-3", "input": [text]},
        }
        for i, text in enumerate(texts)
    ]
    uploaded = zc.files.create(file=("emb.jsonl", jsonl(lines)), purpose="batch")
    batch = wait_for(zc, zc.batches.create(input_file_id=uploaded.id, endpoint="/v1/embeddings").id)
    assert batch.status == "completed"
    assert (batch.request_counts.completed, batch.request_counts.failed) == (len(texts), 0)
    output = read_jsonl(zc.files.content(batch.output_file_id).content)
    assert sorted(r["custom_id"] for r in output) == [line["custom_id"] for line in lines]
    spec = embedding_spec("embedding-3")
    repo = open_repository(f"sqlite:///{gateway.data_dir / 'glmserve.db'}")  # type: ignore[attr-defined]
    try:
        records = {r.record_id: r for r in repo.usage_records(key.split(".")[0])}
    finally:
        repo.close()
    for result in output:
        line = next(x for x in lines if x["custom_id"] == result["custom_id"])
        body = result["response"]["body"]
        assert result["response"]["status_code"] == 200 and result["error"] is None
        sync = httpx.post(
            f"{gateway.zai_base}embeddings", json=line["body"], headers=auth(key), timeout=300
        )
        assert sync.status_code == 200, sync.text
        assert body["usage"] == sync.json()["usage"] and body["model"] == sync.json()["model"]
        got, want = body["data"][0]["embedding"], sync.json()["data"][0]["embedding"]
        assert len(got) == len(want) == 384
        assert sum(a * b for a, b in zip(got, want, strict=True)) > 0.9999
        # Billed once, in the batch, at half the real-time price.
        record = records[result["id"]]
        assert record.kind == "batch" and record.prompt_tokens == body["usage"]["prompt_tokens"]
        full = Decimal(str(spec.price.input)) * record.prompt_tokens * 1000
        assert record.cost_nano == int((full / 2).quantize(Decimal(1))) > 0


def test_another_key_sees_nothing_of_them(gateway: Gateway) -> None:
    owner, other = gateway.create_key("V0"), gateway.create_key("V0")
    mine, theirs = client(gateway.zai_base, owner), client(gateway.zai_base, other)
    uploaded = mine.files.create(file=("a.jsonl", jsonl(chat_lines(1, 2))), purpose="batch")
    batch = mine.batches.create(
        input_file_id=uploaded.id,
        endpoint="/v4/chat/completions",
        completion_window="24h",
        auto_delete_input_file=False,
    )
    base = gateway.zai_base
    attempts = [
        ("GET", f"files/{uploaded.id}"),
        ("GET", f"files/{uploaded.id}/content"),
        ("DELETE", f"files/{uploaded.id}"),
        ("GET", f"batches/{batch.id}"),
        ("POST", f"batches/{batch.id}/cancel"),
    ]
    for method, path in attempts:
        r = httpx.request(method, base + path, headers=auth(other), timeout=30)
        assert (r.status_code, r.json()["error"]["code"]) == (404, "1214"), (path, r.text)
    assert theirs.files.list(purpose="batch").data == []
    assert list(theirs.batches.list()) == []
    r = httpx.post(
        base + "batches",
        json={"input_file_id": uploaded.id, "endpoint": "/v4/chat/completions"},
        headers=auth(other),
        timeout=30,
    )
    assert r.status_code == 404
    # ... and the owner still has both.
    assert [f.id for f in mine.files.list(purpose="batch").data] == [uploaded.id]
    assert wait_for(mine, batch.id).status == "completed"
    assert mine.files.delete(uploaded.id).deleted is True


def test_bad_requests_get_zai_errors(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    base, headers = gateway.zai_base, auth(key)

    def upload(name: str, data: bytes, purpose: str = "batch") -> httpx.Response:
        return httpx.post(
            base + "files", files={"file": (name, data)}, data={"purpose": purpose}, headers=headers
        )

    def code(r: httpx.Response) -> tuple[int, str]:
        return r.status_code, r.json()["error"]["code"]

    line = json.dumps(chat_lines(1, 2)[0]).encode()
    assert code(upload("a.jsonl", line, "fine-tune")) == (400, "1214")
    assert code(upload("a.txt", line)) == (400, "1214")
    assert code(upload("a.jsonl", b"")) == (400, "1214")
    assert code(upload("a.jsonl", b"x" * 70000)) == (435, "1214")  # Z.AI's status for it
    r = httpx.post(base + "files", files={"file": ("a.jsonl", line)}, headers=headers)
    assert code(r) == (400, "1213")

    good = upload("a.jsonl", line).json()["id"]

    def create(**body: Any) -> httpx.Response:
        payload = {"input_file_id": good, "endpoint": "/v4/chat/completions", **body}
        return httpx.post(base + "batches", json=payload, headers=headers)

    assert code(create(input_file_id="nope")) == (404, "1214")
    assert code(create(endpoint="/v4/images/generations")) == (400, "1214")
    assert code(create(completion_window="48h")) == (400, "1214")
    assert code(create(metadata={f"k{i}": "v" for i in range(17)})) == (400, "1214")
    assert code(create(metadata={"k": "v" * 513})) == (400, "1214")
    assert code(create(metadata={"k" * 65: "v"})) == (400, "1214")
    r = httpx.post(base + "batches", content=b"{", headers=headers)
    assert code(r) == (400, "1210")
    assert code(httpx.get(base + "batches/batch_0", headers=headers)) == (404, "1214")
    assert code(httpx.get(base + "files", params={"limit": 0}, headers=headers)) == (400, "1214")

    # A file a batch wrote is not an input file.
    zc = client(base, key)
    done = wait_for(zc, zc.batches.create(input_file_id=good, endpoint="/v4/chat/completions").id)
    assert code(create(input_file_id=done.output_file_id)) == (400, "1214")
    # A finished batch cannot be cancelled.
    r = httpx.post(base + f"batches/{done.id}/cancel", headers=headers)
    assert code(r) == (400, "1214")


def test_lists_page_with_a_cursor(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    zc = client(gateway.zai_base, key)
    ids = [
        zc.files.create(file=(f"f{i}.jsonl", jsonl(chat_lines(1))), purpose="batch").id
        for i in range(5)
    ]
    first = zc.files.list(purpose="batch", limit=2)
    assert first.has_more and len(first.data) == 2
    seen = [f.id for f in first.data]
    after = seen[-1]
    while True:
        page = zc.files.list(purpose="batch", limit=2, after=after)
        seen += [f.id for f in page.data]
        if not page.has_more:
            break
        after = page.data[-1].id
    assert seen == ids[::-1]  # newest first
    oldest = zc.files.list(purpose="batch", limit=100, order="asc")
    assert [f.id for f in oldest.data] == ids

    batch_ids = [
        zc.batches.create(
            input_file_id=i, endpoint="/v4/chat/completions", auto_delete_input_file=False
        ).id
        for i in ids[:3]
    ]
    # The SDK pages through by itself with after = the last id of each page.
    assert [b.id for b in zc.batches.list(limit=1)] == batch_ids[::-1]
    page = httpx.get(
        gateway.zai_base + "batches", params={"limit": 2}, headers=auth(key), timeout=30
    ).json()
    assert (page["first_id"], page["last_id"], page["has_more"]) == (
        batch_ids[2],
        batch_ids[1],
        True,
    )
    for batch_id in batch_ids:
        wait_for(zc, batch_id)


def test_cancel_keeps_what_finished(gateway: Gateway) -> None:
    key = gateway.create_key("V0")
    zc = client(gateway.zai_base, key)
    lines = chat_lines(8, 10)
    uploaded = zc.files.create(file=("c.jsonl", jsonl(lines)), purpose="batch")
    batch = zc.batches.create(input_file_id=uploaded.id, endpoint="/v4/chat/completions")
    wait_for(zc, batch.id, until=lambda b: b.request_counts.completed >= 1)
    cancelling = zc.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled")
    assert cancelling.cancelling_at is not None
    done = wait_for(zc, batch.id)
    assert done.status == "cancelled" and done.cancelled_at is not None
    finished = done.request_counts.completed
    assert 1 <= finished < len(lines)
    output = read_jsonl(zc.files.content(done.output_file_id).content)
    assert len(output) == finished
    assert all(r["response"]["status_code"] == 200 for r in output)
    # An interactive request still gets served right after.
    r = httpx.post(
        f"{gateway.zai_base}chat/completions", json=chat_body(99, 2), headers=auth(key), timeout=300
    )
    assert r.status_code == 200
