"""The repository on a real SQLite file and a real PostgreSQL server, the same tests."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from glmserve.store import KeyRow, Repository, TaskRow, UsageRecord, open_repository


def _key(key_id: str = "k1", balance: int | None = 1000) -> KeyRow:
    return KeyRow(key_id, "test", "V0", "h" * 64, balance, created_at=1)


def _usage(record_id: str, key_id: str = "k1", cost: int = 100, **kw: object) -> UsageRecord:
    values: dict[str, object] = {
        "record_id": record_id,
        "key_id": key_id,
        "model": "glm-4.7",
        "request_id": record_id,
        "kind": "chat",
        "status": "success",
        "created_at": 1,
        "day": "2026-01-02",
        "prompt_tokens": 10,
        "cached_tokens": 4,
        "completion_tokens": 5,
        "cost_nano": cost,
    }
    values.update(kw)
    return UsageRecord(**values)  # type: ignore[arg-type]


def test_migrations_are_applied_once(database_url: str) -> None:
    first = open_repository(database_url)
    first.create_key(_key())
    first.close()
    again = open_repository(database_url)  # a second start must not fail or lose data
    assert again.get_key("k1") == _key()
    again.close()


def test_keys(repository: Repository) -> None:
    repository.create_key(_key("a"))
    repository.create_key(_key("b", None))
    assert [k.id for k in repository.list_keys()] == ["a", "b"]
    assert repository.count_keys() == 2
    assert repository.get_key("missing") is None
    assert repository.revoke_key("a", 99) is True
    assert repository.revoke_key("a", 100) is False  # already revoked
    revoked = repository.get_key("a")
    assert revoked is not None and revoked.revoked and revoked.revoked_at == 99
    topped = repository.top_up("b", 500)
    assert topped is not None and topped.balance_nano == 500  # unlimited -> accounted
    assert repository.top_up("missing", 5) is None


def test_usage_is_recorded_once_and_charged(repository: Repository) -> None:
    repository.create_key(_key(balance=1000))
    assert repository.record_usage(_usage("r1", cost=300)) is True
    assert repository.record_usage(_usage("r1", cost=300)) is False  # duplicate: ignored
    assert repository.record_usage(_usage("r2", cost=800)) is True
    key = repository.get_key("k1")
    assert key is not None and key.balance_nano == 1000 - 300 - 800  # may go below zero
    assert [r.record_id for r in repository.usage_records("k1")] == ["r1", "r2"]


def test_concurrent_charges_are_not_lost(repository: Repository) -> None:
    repository.create_key(_key(balance=10_000))
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda i: repository.record_usage(_usage(f"c{i}", cost=7)), range(40))
        )
    assert all(results)
    key = repository.get_key("k1")
    assert key is not None and key.balance_nano == 10_000 - 40 * 7


def test_usage_summary_by_key_model_and_day(repository: Repository) -> None:
    repository.record_usage(_usage("1"))
    repository.record_usage(_usage("2", status="error", error_code="1302", cost=0))
    repository.record_usage(_usage("3", status="cancelled", day="2026-01-03"))
    repository.record_usage(_usage("4", key_id="k2", model="gemma-3-270m"))
    rows = repository.usage_summary()
    assert [(r.key_id, r.model, r.day, r.requests) for r in rows] == [
        ("k1", "glm-4.7", "2026-01-02", 2),
        ("k1", "glm-4.7", "2026-01-03", 1),
        ("k2", "gemma-3-270m", "2026-01-02", 1),
    ]
    first = rows[0]
    assert (first.errors, first.cancelled, first.prompt_tokens, first.cached_tokens) == (
        1,
        0,
        20,
        8,
    )
    assert first.completion_tokens == 10 and first.cost_nano == 100
    assert [r.day for r in repository.usage_summary(key_id="k1", since="2026-01-03")] == [
        "2026-01-03"
    ]
    assert repository.usage_summary(model="nope") == []
    assert repository.requests_on("k1", "2026-01-02") == 2


def _task(task_id: str, key_id: str = "k1", created: int = 1) -> TaskRow:
    return TaskRow(task_id, key_id, "glm-4.7", "rid", "PROCESSING", "{}", None, created)


def test_a_task_is_claimed_by_one_worker_until_its_lease_ends(repository: Repository) -> None:
    repository.create_task(_task("t1"))
    first = repository.claim_task("gw-a", now_ms=1_000, lease_ms=500)
    assert first is not None and first.id == "t1"
    assert repository.claim_task("gw-b", now_ms=1_200, lease_ms=500) is None  # held
    again = repository.claim_task("gw-b", now_ms=1_600, lease_ms=500)  # lease ran out
    assert again is not None and again.id == "t1"
    repository.renew_tasks("gw-a", ["t1"], 10_000)  # not the holder any more: no effect
    assert repository.claim_task("gw-c", now_ms=2_200, lease_ms=500) is not None


def test_racing_workers_claim_each_task_once(repository: Repository) -> None:
    for i in range(10):
        repository.create_task(_task(f"t{i}", created=i))
    with ThreadPoolExecutor(6) as pool:
        claims = list(pool.map(lambda i: repository.claim_task(f"gw{i}", 1_000, 60_000), range(30)))
    won = [c.id for c in claims if c is not None]
    assert sorted(won) == sorted(f"t{i}" for i in range(10))


def test_finished_tasks_are_readable_then_purged(repository: Repository) -> None:
    repository.create_task(_task("t1"))
    repository.create_task(_task("t2"))
    repository.finish_task("t1", "SUCCESS", '{"ok": 1}', at=100)
    done = repository.get_task("t1")
    assert done is not None and done.status == "SUCCESS" and done.result_json == '{"ok": 1}'
    assert repository.claim_task("gw", 1_000, 500) is not None  # only t2 is claimable
    assert repository.claim_task("gw", 1_000, 500) is None
    assert repository.purge_tasks(finished_before=101) == 1
    assert repository.get_task("t1") is None and repository.get_task("t2") is not None


def test_tasks_are_listed_newest_first_per_key_or_all(repository: Repository) -> None:
    for task_id, key_id, created in (("a", "k1", 1), ("b", "k2", 2), ("c", "k1", 3)):
        repository.create_task(_task(task_id, key_id, created))
    assert [t.id for t in repository.list_tasks("k1")] == ["c", "a"]
    assert [t.id for t in repository.list_tasks()] == ["c", "b", "a"]
    assert [t.id for t in repository.list_tasks(None, limit=2)] == ["c", "b"]
    assert repository.list_tasks("nobody") == []
