"""What the platform stores, and the one repository interface it stores it through.

Money is an integer number of nano-dollars (1e-9 USD): the cheapest token costs a few,
and integer sums stay exact across millions of ledger rows on any database.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from glmserve.store.batch_records import (
    BatchLineRow,
    BatchRow,
    BatchStatus,
    FileRow,
    LineStatus,
)

__all__ = [
    "NANO_PER_USD",
    "KEY_STATUSES",
    "KeyRow",
    "KeyStatus",
    "UsageRecord",
    "UsageSummary",
    "TaskRow",
    "TaskStatus",
    "Repository",
]

NANO_PER_USD = 1_000_000_000

TaskStatus = Literal["PROCESSING", "SUCCESS", "FAIL"]
KeyStatus = Literal["active", "inactive", "locked", "suspended", "restricted"]
KEY_STATUSES: tuple[KeyStatus, ...] = ("active", "inactive", "locked", "suspended", "restricted")


@dataclass(frozen=True)
class KeyRow:
    id: str
    name: str
    tier: str
    secret_hash: str
    """SHA-256 of the secret (hex); the secret itself is never stored."""
    balance_nano: int | None
    """None: no balance accounting for this key (unlimited)."""
    created_at: int
    revoked_at: int | None = None
    safety_exempt: bool = False
    """May turn content safety off per request (``sensitive_word_check`` DISABLE)."""
    status: KeyStatus = "active"
    """An administrator's hold on the key: inactive (1110), locked (1112), suspended
    for irregular activity (1121), restricted under the fair-use policy (1313)."""
    plan: str | None = None
    """The GLM Coding Plan the key is on (docs/plans.md); None: none."""
    plan_expires_at: int | None = None
    """When the plan ends (Unix seconds; 1309 after it); None: it does not."""
    apis: str | None = None
    """The APIs the key may call, comma-separated (docs/api.md, "API names"); None: all."""

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class UsageRecord:
    """One ledger line: one request, whatever became of it."""

    record_id: str
    """Unique per request (the completion or task id): a second write is ignored."""
    key_id: str
    model: str
    request_id: str
    kind: Literal[
        "chat", "stream", "async", "batch", "embeddings", "moderate", "tools", "image", "video"
    ]
    status: Literal["success", "error", "cancelled"]
    created_at: int
    day: str
    """UTC date, YYYY-MM-DD: the unit of the daily report."""
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""
    error_code: str = ""
    latency_ms: int = 0
    cost_nano: int = 0
    user_id: str | None = None
    """The request's ``user_id`` (the end user, as the caller names them)."""
    reasoning_tokens: int = 0
    """Completion tokens inside the thinking block."""


@dataclass(frozen=True)
class UsageSummary:
    key_id: str
    model: str
    day: str
    requests: int
    errors: int
    cancelled: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    cost_nano: int
    reasoning_tokens: int = 0


@dataclass(frozen=True)
class TaskRow:
    id: str
    key_id: str
    model: str
    request_id: str
    status: TaskStatus
    request_json: str
    result_json: str | None
    created_at: int
    finished_at: int | None = None
    endpoint: str = "chat"
    """The kind of endpoint it was submitted to: its handler in the serving layer's job
    table ("chat", and the families that register there)."""


class Repository(Protocol):
    """Everything the platform reads and writes. Methods block: call them off the loop."""

    # keys
    def create_key(self, key: KeyRow) -> None: ...
    def get_key(self, key_id: str) -> KeyRow | None: ...
    def list_keys(self) -> list[KeyRow]: ...
    def count_keys(self) -> int: ...
    def revoke_key(self, key_id: str, at: int) -> bool: ...
    def top_up(self, key_id: str, amount_nano: int) -> KeyRow | None: ...
    def set_safety_exempt(self, key_id: str, exempt: bool) -> KeyRow | None: ...
    def set_key_status(self, key_id: str, status: KeyStatus) -> KeyRow | None: ...
    def set_key_apis(self, key_id: str, apis: str | None) -> KeyRow | None: ...
    def set_key_plan(
        self, key_id: str, plan: str | None, expires_at: int | None
    ) -> KeyRow | None: ...

    # ledger
    def record_usage(self, record: UsageRecord) -> bool:
        """Insert the record and charge the key's balance in one transaction; False if a
        record with this record_id exists already (nothing is charged twice)."""
        ...

    def usage_records(
        self, key_id: str | None = None, user_id: str | None = None
    ) -> list[UsageRecord]: ...
    def usage_summary(
        self,
        key_id: str | None = None,
        model: str | None = None,
        since: str | None = None,
        until: str | None = None,
        user_id: str | None = None,
    ) -> list[UsageSummary]: ...
    def requests_on(self, key_id: str, day: str) -> int: ...

    # async tasks
    def create_task(self, task: TaskRow) -> None: ...
    def get_task(self, task_id: str) -> TaskRow | None: ...
    def list_tasks(self, key_id: str | None = None, limit: int = 100) -> list[TaskRow]:
        """The newest tasks first (of one key, or of all)."""
        ...

    def count_tasks(self, key_id: str, status: TaskStatus) -> int: ...
    def claim_task(
        self, owner: str, now_ms: int, lease_ms: int, skip_keys: Sequence[str] = ()
    ) -> TaskRow | None:
        """Take one PROCESSING task nobody holds (or whose holder's lease ran out), the
        oldest of a key not in ``skip_keys``."""
        ...

    def renew_tasks(self, owner: str, task_ids: Sequence[str], until_ms: int) -> None: ...
    def finish_task(self, task_id: str, status: TaskStatus, result_json: str, at: int) -> None: ...
    def purge_tasks(self, finished_before: int) -> int: ...

    # files and batches (store/batch_records.py)
    def create_file(self, row: FileRow) -> bool: ...
    def get_file(self, file_id: str) -> FileRow | None: ...
    def list_files(
        self,
        key_id: str,
        purpose: str | None,
        after: str | None,
        limit: int,
        newest_first: bool = True,
    ) -> list[FileRow]: ...
    def count_files(self, key_id: str, purpose: str) -> int: ...
    def delete_file(self, file_id: str) -> bool: ...
    def old_files(self, purpose: str, created_before: int, limit: int) -> list[FileRow]:
        """Files of a purpose (every key's) made before a time, oldest first."""
        ...

    def create_batch(self, row: BatchRow) -> None: ...
    def get_batch(self, batch_id: str) -> BatchRow | None: ...
    def list_batches(self, key_id: str, after: str | None, limit: int) -> list[BatchRow]: ...
    def count_open_batches(self, key_id: str) -> int: ...
    def update_batch(
        self,
        batch_id: str,
        changes: Mapping[str, Any],
        expect: Sequence[BatchStatus] | None = None,
    ) -> bool: ...
    def claim_batch(self, owner: str, now_ms: int, lease_ms: int) -> BatchRow | None: ...
    def renew_batches(self, owner: str, batch_ids: Sequence[str], until_ms: int) -> None: ...
    def start_batch(
        self, batch_id: str, lines: Sequence[BatchLineRow], changes: Mapping[str, Any]
    ) -> bool: ...
    def pending_lines(
        self, batch_id: str, limit: int, after_line: int = 0
    ) -> list[BatchLineRow]: ...
    def finish_line(
        self, batch_id: str, line: int, status: LineStatus, result_json: str
    ) -> bool: ...
    def ended_lines(self, batch_id: str, status: LineStatus) -> list[BatchLineRow]: ...

    def close(self) -> None: ...
