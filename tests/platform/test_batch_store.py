"""Files and batches in the repository, on a real SQLite file and a real PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from glmserve.store import BatchLineRow, BatchRow, FileRow, Repository, open_repository
from glmserve.store.schema import MIGRATIONS


def _file(file_id: str, key_id: str = "k1", created: int = 1, purpose: str = "batch") -> FileRow:
    return FileRow(file_id, key_id, f"{file_id}.jsonl", purpose, 10, created)


def _batch(batch_id: str, key_id: str = "k1", created: int = 1) -> BatchRow:
    return BatchRow(
        id=batch_id,
        key_id=key_id,
        endpoint="/v4/chat/completions",
        input_file_id="f",
        completion_window="24h",
        status="validating",
        created_at=created,
        expires_at=created + 86400,
    )


def test_a_database_of_the_first_schema_is_migrated(database_url: str) -> None:
    first = open_repository(database_url)
    first.close()
    again = open_repository(database_url)
    assert again.get_file("nothing") is None and len(MIGRATIONS) >= 2
    again.close()


def test_files_are_listed_per_key_with_a_cursor(repository: Repository) -> None:
    for i in range(5):
        assert repository.create_file(_file(f"f{i}", created=i // 2))
    assert repository.create_file(_file("f0")) is False  # the same id again
    repository.create_file(_file("other", key_id="k2"))
    repository.create_file(_file("out", purpose="batch_output", created=9))
    newest = [f.id for f in repository.list_files("k1", "batch", None, 10)]
    assert newest == ["f4", "f3", "f2", "f1", "f0"]
    assert [f.id for f in repository.list_files("k1", "batch", "f3", 2)] == ["f2", "f1"]
    assert [f.id for f in repository.list_files("k1", "batch", "f1", 10, False)] == [
        "f2",
        "f3",
        "f4",
    ]
    assert [f.id for f in repository.list_files("k1", None, None, 1)] == ["out"]
    assert repository.count_files("k1", "batch") == 5
    assert repository.delete_file("f0") is True and repository.delete_file("f0") is False
    assert repository.get_file("other") == _file("other", key_id="k2")


def test_batches_and_their_lines(repository: Repository) -> None:
    repository.create_batch(_batch("b1"))
    repository.create_batch(_batch("b2", created=2))
    repository.create_batch(_batch("b3", key_id="k2"))
    assert [b.id for b in repository.list_batches("k1", None, 10)] == ["b2", "b1"]
    assert [b.id for b in repository.list_batches("k1", "b2", 10)] == ["b1"]

    lines = [BatchLineRow("b1", n, f"c{n}", "{}") for n in (1, 2, 4)]
    bad = BatchLineRow("b1", 3, "", "null", "failed", '{"error": 1}')
    changes = {"status": "in_progress", "in_progress_at": 5, "total": 4, "failed": 1}
    assert repository.start_batch("b1", [*lines, bad], changes) is True
    assert repository.start_batch("b1", lines, changes) is False  # not validating any more
    assert [line.line for line in repository.pending_lines("b1", 10)] == [1, 2, 4]
    assert [line.line for line in repository.pending_lines("b1", 10, after_line=1)] == [2, 4]

    assert repository.finish_line("b1", 2, "succeeded", '{"ok": 2}') is True
    assert repository.finish_line("b1", 2, "succeeded", '{"ok": 2}') is False  # once only
    assert repository.finish_line("b1", 4, "failed", '{"no": 4}') is True
    row = repository.get_batch("b1")
    assert row is not None
    assert (row.status, row.total, row.completed, row.failed) == ("in_progress", 4, 1, 2)
    assert [line.line for line in repository.ended_lines("b1", "failed")] == [3, 4]
    assert [line.result_json for line in repository.ended_lines("b1", "succeeded")] == ['{"ok": 2}']

    # Compare and set: a cancel moves only a batch that is still running.
    assert repository.update_batch("b1", {"status": "cancelling"}, ("in_progress",)) is True
    assert repository.update_batch("b1", {"status": "cancelling"}, ("in_progress",)) is False


def test_one_gateway_claims_a_batch_until_its_lease_runs_out(repository: Repository) -> None:
    repository.create_batch(_batch("b1"))
    with ThreadPoolExecutor(8) as pool:
        claims = list(pool.map(lambda i: repository.claim_batch(f"g{i}", 1000, 500), range(8)))
    assert sum(c is not None for c in claims) == 1
    holder = next(i for i, c in enumerate(claims) if c is not None)
    assert repository.claim_batch("late", 1200, 500) is None
    repository.renew_batches(f"g{holder}", ["b1"], 5000)
    assert repository.claim_batch("late", 4000, 500) is None
    claimed = repository.claim_batch("late", 5001, 500)  # the holder stopped renewing
    assert claimed is not None and claimed.id == "b1"
    repository.update_batch("b1", {"status": "completed"})
    assert repository.claim_batch("later", 99999, 500) is None  # finished: never claimed
