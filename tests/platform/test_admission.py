"""Limits before work, through HTTP on a real keyed gateway: a chat is admitted before
its prompt is rendered; async tasks and batches run under their key's tier, balance and
revocation; the tokenizer and the file routes are admitted; stored strings are checked
alike on SQLite and PostgreSQL. (The engine's turns between keys: tests/engine.)"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from glmserve.store import UsageRecord, open_repository
from glmserve.store.records import Repository
from tests.platform.batch_helpers import chat_lines, client, jsonl, wait_for
from tests.platform.gateway import ADMIN_KEY, Gateway, auth, write_config

HELLO = [{"role": "user", "content": "Say hello."}]
COUNT = [{"role": "user", "content": "Count from 1 to 1000: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"}]
LONG_TOKENS = 200
LONG = {"messages": COUNT, "max_tokens": LONG_TOKENS, "ignore_eos": True}
"""A generation that runs for a good while, to hold a slot."""

# V0: tight quotas; V1: one request at a time; V3 (defaults): the fairness keys.
LIMITS = """max_queued_tasks_per_key = 3
[limits.V0]
concurrency = 1
daily = 2
[limits.V1]
concurrency = 1
[batches]
concurrency = 2
idle_ms = 0
max_open_per_key = 1
"""


def _config(tmp: Path, gguf: Path, *, idle: bool = False, database_url: str | None = None) -> Path:
    """``idle``: no task or batch workers, so what is queued stays queued."""
    extra = LIMITS + ("workers = 0\n" if idle else "")
    config = write_config(
        tmp / "glmserve.toml",
        gguf,
        tmp / "data",
        database_url=database_url,
        task_workers=0 if idle else 2,
        extra=extra,
    )
    # One sequence at a time: the order requests start in is the order they end in.
    with config.open("a") as out:
        out.write("max_running = 1\nqueue_limit = 16\n")
    return config


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("admission")
    server = Gateway(_config(tmp, gemma_gguf), tmp / "server.log")
    server.data_dir = tmp / "data"  # type: ignore[attr-defined]
    yield server
    server.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def idle_gateway(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path
) -> Iterator[Gateway]:
    """A gateway whose tasks and batches never start, on each kind of database."""
    tmp = tmp_path_factory.mktemp(f"idle-{request.param}")
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres").new_database("admission")
    server = Gateway(_config(tmp, gemma_gguf, idle=True, database_url=url), tmp / "server.log")
    yield server
    server.stop()


def _post(gateway: Gateway, path: str, key: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{gateway.zai_base}{path}", json=body, headers=auth(key), timeout=120)


def _chat(gateway: Gateway, key: str, **body: Any) -> httpx.Response:
    payload = {"model": "glm-4.7", "messages": HELLO, "max_tokens": 2, "do_sample": False}
    return _post(gateway, "chat/completions", key, {**payload, **body})


def _submit(gateway: Gateway, key: str, **body: Any) -> httpx.Response:
    payload = {"model": "glm-4.7", "messages": HELLO, "max_tokens": 2, "do_sample": False}
    return _post(gateway, "async/chat/completions", key, {**payload, **body})


def _code(r: httpx.Response) -> tuple[int, str]:
    return r.status_code, r.json()["error"]["code"]


def _tasks(gateway: Gateway, key: str, count: int) -> list[dict[str, Any]]:
    """The key's tasks (as the admin sees them), once ``count`` of them have ended."""
    key_id = key.split(".")[0]
    headers = auth(ADMIN_KEY)
    deadline = time.monotonic() + 900  # generous: a loaded machine generates slowly
    while time.monotonic() < deadline:
        rows = httpx.get(f"{gateway.base}/console/api/tasks", headers=headers, timeout=30)
        mine = [t for t in rows.json()["data"] if t["key"] == key_id]
        if sum(t["task_status"] != "PROCESSING" for t in mine) >= count:
            return mine
        time.sleep(0.5)
    raise AssertionError(f"the tasks of {key_id} did not end: {mine}")


@contextlib.contextmanager
def _repository(gateway: Gateway) -> Iterator[Repository]:
    """The gateway's own database (SQLite in its data directory)."""
    data_dir: Path = gateway.data_dir  # type: ignore[attr-defined]
    repo = open_repository(f"sqlite:///{data_dir / 'glmserve.db'}")
    try:
        yield repo
    finally:
        repo.close()


def _engine_running(gateway: Gateway, running: int, waiting: int = 0) -> None:
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        state = next(m for m in gateway.health()["models"] if m["model"] == "glm-4.7")
        if state["running"] == running and state["waiting"] == waiting:
            return
        time.sleep(0.1)
    raise AssertionError(f"the engine never had {running} running, {waiting} waiting: {state}")


# --- chat: the cheap checks first -----------------------------------------------------


def test_a_key_over_its_quota_is_refused_before_its_prompt_is_read(gateway: Gateway) -> None:
    key = gateway.create_key("V0")  # two requests a day
    assert [_chat(gateway, key).status_code for _ in range(2)] == [200, 200]
    # Too long for the context: rendering and tokenizing it would find 1261. The quota
    # is checked first, so the answer is 1304 and the prompt is never rendered.
    words = "token " * 5000
    r = _chat(gateway, key, messages=[{"role": "user", "content": words}])
    assert _code(r) == (429, "1304")
    # The ledger records the refusal with its code.
    gateway.usage(key, settled=3)
    with _repository(gateway) as repo:
        codes = [r.error_code for r in repo.usage_records(key.split(".")[0])]
    assert sorted(codes) == ["", "", "1304"]


# --- async tasks under the key's tier -------------------------------------------------


def test_async_tasks_count_against_the_daily_quota(gateway: Gateway) -> None:
    key = gateway.create_key("V0")  # two requests a day
    assert [_submit(gateway, key).status_code for _ in range(2)] == [200, 200]
    # A third: the code a synchronous request gets, at submission.
    assert _code(_submit(gateway, key)) == (429, "1304")
    tasks = _tasks(gateway, key, 2)
    assert sorted(t["task_status"] for t in tasks) == ["SUCCESS", "SUCCESS"]
    # The tasks were today's two requests: a synchronous one is refused as well.
    assert _code(_chat(gateway, key)) == (429, "1304")


def test_a_running_task_holds_its_keys_slot_and_revocation_stops_the_queued(
    gateway: Gateway,
) -> None:
    key = gateway.create_key("V1")  # one request at a time
    first = _submit(gateway, key, **LONG).json()["id"]
    _engine_running(gateway, 1)  # the task is generating
    # It counts as it runs: the key's one slot is taken.
    assert _code(_chat(gateway, key)) == (429, "1302")
    queued = _submit(gateway, key).json()["id"]
    key_id = key.split(".")[0]
    assert gateway.admin("POST", f"/keys/{key_id}/revoke").status_code == 200
    tasks = {t["id"]: t for t in _tasks(gateway, key, 2)}
    # The queued task never ran: revoked while it waited for the slot.
    assert tasks[queued]["task_status"] == "FAIL"
    assert tasks[first]["task_status"] == "SUCCESS"
    ledger = gateway.usage(key, settled=3)
    assert ledger["completion_tokens"] == LONG_TOKENS  # the first task's; none of the queued


def test_queued_tasks_are_checked_against_the_balance_when_they_run(gateway: Gateway) -> None:
    key = gateway.create_key("V1", balance="0.000000001")  # less than one request costs
    ids = [_submit(gateway, key).json()["id"] for _ in range(2)]
    tasks = _tasks(gateway, key, 2)
    assert sorted(t["task_status"] for t in tasks) == ["FAIL", "SUCCESS"]
    failed = next(t for t in tasks if t["task_status"] == "FAIL")
    result = httpx.get(
        f"{gateway.zai_base}async-result/{failed['id']}", headers=auth(key), timeout=30
    ).json()
    assert result["error"]["code"] == "1113" and failed["id"] in ids
    # One request was billed, the other never ran: the balance is short by one request.
    ledger = gateway.usage(key, settled=2)
    assert ledger["errors"] == 1 and ledger["completion_tokens"] == 2


# --- batches ----------------------------------------------------------------------------


def _batch(gateway: Gateway, key: str, lines: int, max_tokens: int = 2) -> str:
    zc = client(gateway.zai_base, key)
    uploaded = zc.files.create(
        file=("r.jsonl", jsonl(chat_lines(lines, max_tokens))), purpose="batch"
    )
    return str(zc.batches.create(input_file_id=uploaded.id, endpoint="/v4/chat/completions").id)


def test_a_batch_stops_when_its_key_cannot_pay(gateway: Gateway) -> None:
    key = gateway.create_key("V1", balance="0.000000001")
    batch = wait_for(client(gateway.zai_base, key), _batch(gateway, key, 12))
    assert batch.status == "cancelled"
    assert any(e.code == "1113" for e in batch.errors.data)
    # Lines in flight when the balance ran out end; the others never start.
    assert batch.request_counts.completed <= 2 + 1


def test_a_batch_stops_when_its_key_is_revoked(gateway: Gateway) -> None:
    key = gateway.create_key("V1")
    batch_id = _batch(gateway, key, 12, max_tokens=60)
    key_id = key.split(".")[0]
    assert gateway.admin("POST", f"/keys/{key_id}/revoke").status_code == 200
    with _repository(gateway) as repo:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            row = repo.get_batch(batch_id)
            assert row is not None
            if row.status in ("completed", "failed", "expired", "cancelled"):
                break
            time.sleep(0.1)
    assert row.status == "cancelled"
    errors = json.loads(row.errors_json or "[]")
    assert any(e["code"] == "1000" for e in errors)
    assert row.completed < 12


# --- caps, admission of the tokenizer and the file routes, stored strings -------------


def test_caps_on_queued_tasks_and_on_batches(idle_gateway: Gateway) -> None:
    key = idle_gateway.create_key("V3")
    assert [_submit(idle_gateway, key).status_code for _ in range(3)] == [200] * 3
    assert _code(_submit(idle_gateway, key)) == (429, "1302")
    _batch(idle_gateway, key, 1)  # it stays "validating": this gateway runs no batches
    zc = client(idle_gateway.zai_base, key)
    uploaded = zc.files.create(file=("r.jsonl", jsonl(chat_lines(1))), purpose="batch")
    r = _post(
        idle_gateway,
        "batches",
        key,
        {"input_file_id": uploaded.id, "endpoint": "/v4/chat/completions"},
    )
    assert _code(r) == (429, "1302")
    # Another key is not held up by this one's.
    assert _submit(idle_gateway, idle_gateway.create_key("V3")).status_code == 200


def test_the_tokenizer_and_the_file_routes_are_admitted(gateway: Gateway) -> None:
    key = gateway.create_key("V0")  # two requests a day
    body = {"model": "glm-4.7", "messages": HELLO}
    assert [_post(gateway, "tokenizer", key, body).status_code for _ in range(2)] == [200, 200]
    assert _code(_post(gateway, "tokenizer", key, body)) == (429, "1304")
    # The file routes count apart from model requests: two a day as well.
    files = f"{gateway.zai_base}files"
    assert [httpx.get(files, headers=auth(key), timeout=30).status_code for _ in range(2)] == [
        200,
        200,
    ]
    assert _code(httpx.get(files, headers=auth(key), timeout=30)) == (429, "1304")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("request_id", "a\u0000b"),
        ("user_id", "user\u0000"),
        ("model", "m" * 200),
    ],
)
def test_strings_no_store_keeps_are_refused_before_the_request_runs(
    idle_gateway: Gateway, field: str, value: str
) -> None:
    key = idle_gateway.create_key("V3")
    body = {"model": "glm-4.7", "messages": HELLO, "max_tokens": 2, field: value}
    data = json.dumps(body).encode()  # as the JSON escape \u0000
    headers = {**auth(key), "content-type": "application/json"}
    for path in ("chat/completions", "async/chat/completions", "embeddings"):
        payload = data if path != "embeddings" else json.dumps({"input": "x", **body}).encode()
        r = httpx.post(f"{idle_gateway.zai_base}{path}", content=payload, headers=headers)
        if path == "embeddings" and field == "user_id":
            continue  # embeddings take no user_id
        assert _code(r) == (400, "1214"), (path, r.text)
        assert field in r.json()["error"]["message"]
    # A good request beside them is answered and recorded, and so is every refusal:
    # the ledger has all of them, on SQLite as on PostgreSQL.
    ok = _chat(idle_gateway, key, request_id="r" * 128, user_id="u" * 128)
    assert ok.status_code == 200
    ledger = idle_gateway.usage(key, settled=3)
    assert ledger["requests"] == 3 and ledger["errors"] == 2


async def test_the_ledger_bounds_what_it_stores(repository: Repository) -> None:
    from glmserve.platform.usage import Ledger

    huge = UsageRecord(
        record_id="r1",
        key_id="k",
        model="=HYPERLINK(" + "x" * 100_000 + "\u0000",
        request_id="id\u0000" + "y" * 500,
        kind="chat",
        status="error",
        created_at=int(time.time()),
        day="2026-12-04",
        user_id="\ud800" * 300,
    )
    await Ledger(repository).write(huge)
    (stored,) = repository.usage_records("k")
    assert len(stored.model) == 128 and stored.model.startswith("=HYPERLINK(x")
    assert stored.request_id == ("id\ufffd" + "y" * 500)[:128]
    assert stored.user_id == "\ufffd" * 128
