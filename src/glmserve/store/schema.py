"""The tables, and the migrations that bring any older database up to them.

Each migration is a function run once, in order, inside a transaction; the number of
the last one applied is kept in ``schema_version``. Add a new function at the end of
``MIGRATIONS``; never edit one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    inspect,
    select,
    text,
)

__all__ = [
    "metadata",
    "keys",
    "usage",
    "tasks",
    "files",
    "batches",
    "batch_lines",
    "MIGRATIONS",
    "migrate",
]

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

keys = Table(
    "api_keys",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("tier", String(8), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("balance_nano", BigInteger, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("revoked_at", BigInteger, nullable=True),
    Column("safety_exempt", Boolean, nullable=False, server_default="0"),  # _v4_key_safety
    Column("status", String(16), nullable=False, server_default="active"),  # _v5_key_plans
    Column("plan", String(64), nullable=True),
    Column("plan_expires_at", BigInteger, nullable=True),
    Column("apis", String(500), nullable=True),
)

usage = Table(
    "usage",
    metadata,
    Column("record_id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # _v7_usage_kind
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("day", String(10), nullable=False),
    Column("prompt_tokens", Integer, nullable=False),
    Column("cached_tokens", Integer, nullable=False),
    Column("completion_tokens", Integer, nullable=False),
    Column("finish_reason", String(32), nullable=False),
    Column("error_code", String(16), nullable=False),
    Column("latency_ms", BigInteger, nullable=False),
    Column("cost_nano", BigInteger, nullable=False),
    Column("user_id", String(128), nullable=True),  # _v2_usage_user_reasoning
    Column("reasoning_tokens", Integer, nullable=False, server_default="0"),
    Index("usage_by_key_day", "key_id", "day"),
    Index("usage_by_user", "user_id"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("model", String(128), nullable=False),
    Column("request_id", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("request_json", Text, nullable=False),
    Column("result_json", Text, nullable=True),
    Column("created_at", BigInteger, nullable=False),
    Column("finished_at", BigInteger, nullable=True),
    Column("endpoint", String(32), nullable=False, server_default="chat"),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    Index("tasks_by_status", "status", "lease_until_ms"),
)


files = Table(
    "files",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("filename", String(512), nullable=False),
    Column("purpose", String(32), nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("files_by_key", "key_id", "created_at"),
)

_stamp = (
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)

batches = Table(
    "batches",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("endpoint", String(64), nullable=False),
    Column("input_file_id", String(64), nullable=False),
    Column("completion_window", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Column("metadata_json", Text, nullable=True),
    Column("auto_delete_input_file", Boolean, nullable=False),
    Column("output_file_id", String(64), nullable=True),
    Column("error_file_id", String(64), nullable=True),
    Column("errors_json", Text, nullable=True),
    Column("total", Integer, nullable=False),
    Column("completed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    *(Column(name, BigInteger, nullable=True) for name in _stamp),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until_ms", BigInteger, nullable=True),
    Index("batches_by_key", "key_id", "created_at"),
    Index("batches_by_status", "status", "lease_until_ms"),
)

batch_lines = Table(
    "batch_lines",
    metadata,
    Column("batch_id", String(64), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("custom_id", String(512), nullable=False),
    Column("request_json", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("result_json", Text, nullable=True),
    Index("batch_lines_by_status", "batch_id", "status"),
)


def _v1_initial(conn: Connection) -> None:
    for table in (keys, usage, tasks):
        table.create(conn)


def _v2_files_and_batches(conn: Connection) -> None:
    for table in (files, batches, batch_lines):
        table.create(conn)


def _v3_usage_user_reasoning(conn: Connection) -> None:
    """The ledger records the request's ``user_id`` and its reasoning tokens. A database
    created at this version has them already (``_v1_initial`` creates today's tables)."""
    present = {c["name"] for c in inspect(conn).get_columns("usage")}
    if "user_id" not in present:
        conn.execute(text("ALTER TABLE usage ADD COLUMN user_id VARCHAR(128)"))
    if "reasoning_tokens" not in present:
        conn.execute(
            text("ALTER TABLE usage ADD COLUMN reasoning_tokens INTEGER NOT NULL DEFAULT 0")
        )
    if "usage_by_user" not in {i["name"] for i in inspect(conn).get_indexes("usage")}:
        conn.execute(text("CREATE INDEX usage_by_user ON usage (user_id)"))


def _v4_key_safety(conn: Connection) -> None:
    """A key may be allowed to turn content safety off per request (docs/safety.md)."""
    if "safety_exempt" not in {c["name"] for c in inspect(conn).get_columns("api_keys")}:
        conn.execute(
            text("ALTER TABLE api_keys ADD COLUMN safety_exempt BOOLEAN NOT NULL DEFAULT FALSE")
        )


def _v5_key_plans(conn: Connection) -> None:
    """A key's status (active, inactive, locked, suspended, restricted), its Coding Plan
    with the plan's expiry (docs/plans.md) and the APIs it may call (docs/api.md)."""
    present = {c["name"] for c in inspect(conn).get_columns("api_keys")}
    if "status" not in present:
        conn.execute(
            text("ALTER TABLE api_keys ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'active'")
        )
    if "plan" not in present:
        conn.execute(text("ALTER TABLE api_keys ADD COLUMN plan VARCHAR(64)"))
    if "plan_expires_at" not in present:
        conn.execute(text("ALTER TABLE api_keys ADD COLUMN plan_expires_at BIGINT"))
    if "apis" not in present:
        conn.execute(text("ALTER TABLE api_keys ADD COLUMN apis VARCHAR(500)"))


def _v6_task_endpoint(conn: Connection) -> None:
    """A task records the kind of endpoint it was submitted to (any family's task is
    stored in the one table); the tasks before it were all chat."""
    if "endpoint" not in {c["name"] for c in inspect(conn).get_columns("tasks")}:
        conn.execute(
            text("ALTER TABLE tasks ADD COLUMN endpoint VARCHAR(32) NOT NULL DEFAULT 'chat'")
        )


def _v7_usage_kind(conn: Connection) -> None:
    """The ledger's ``kind`` holds "embeddings" (10 characters): PostgreSQL refused it in
    the old 8-character column, and every embeddings record there was lost. SQLite does
    not enforce lengths (and cannot alter a column's type): nothing to do there."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TABLE usage ALTER COLUMN kind TYPE VARCHAR(16)"))


MIGRATIONS: list[Callable[[Connection], None]] = [
    _v1_initial,
    _v2_files_and_batches,
    _v3_usage_user_reasoning,
    _v4_key_safety,
    _v5_key_plans,
    _v6_task_endpoint,
    _v7_usage_kind,
]


def migrate(conn: Connection) -> int:
    """Apply the migrations this database has not seen; return the version it is at."""
    schema_version.create(conn, checkfirst=True)
    current = conn.execute(select(schema_version.c.version)).scalar()
    if current is None:
        conn.execute(schema_version.insert().values(version=0))
        current = 0
    if current > len(MIGRATIONS):
        raise RuntimeError(
            f"the database schema is version {current}, newer than this glmserve "
            f"({len(MIGRATIONS)}): upgrade glmserve"
        )
    for step in MIGRATIONS[current:]:
        step(conn)
    conn.execute(schema_version.update().values(version=len(MIGRATIONS)))
    return len(MIGRATIONS)
