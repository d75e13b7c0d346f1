"""The repository on SQLAlchemy Core: SQLite (WAL) or PostgreSQL, the same statements."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine, and_, case, func, or_, select, text, true, update
from sqlalchemy.exc import IntegrityError

from glmserve.store.records import (
    KeyRow,
    KeyStatus,
    TaskRow,
    TaskStatus,
    UsageRecord,
    UsageSummary,
)
from glmserve.store.schema import keys, migrate, tasks, usage
from glmserve.store.sql_batches import SqlBatches

__all__ = ["SqlRepository"]

log = logging.getLogger(__name__)


class SqlRepository(SqlBatches):
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                # Several gateways may start at once: one migrates, the others wait.
                conn.execute(text("SELECT pg_advisory_xact_lock(717171)"))
            migrate(conn)

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    # --- keys ------------------------------------------------------------------------

    def create_key(self, key: KeyRow) -> None:
        with self._engine.begin() as conn:
            conn.execute(keys.insert().values(**asdict(key)))

    def get_key(self, key_id: str) -> KeyRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(keys).where(keys.c.id == key_id)).mappings().first()
        return KeyRow(**row) if row else None

    def list_keys(self) -> list[KeyRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(keys).order_by(keys.c.created_at, keys.c.id)).mappings()
            return [KeyRow(**r) for r in rows]

    def count_keys(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(keys)).scalar_one())

    def revoke_key(self, key_id: str, at: int) -> bool:
        with self._engine.begin() as conn:
            result = conn.execute(
                update(keys)
                .where(keys.c.id == key_id, keys.c.revoked_at.is_(None))
                .values(revoked_at=at)
            )
            return result.rowcount == 1

    def top_up(self, key_id: str, amount_nano: int) -> KeyRow | None:
        with self._engine.begin() as conn:
            # A key without balance accounting gets one, starting at the amount.
            conn.execute(
                update(keys)
                .where(keys.c.id == key_id)
                .values(balance_nano=func.coalesce(keys.c.balance_nano, 0) + amount_nano)
            )
        return self.get_key(key_id)

    def set_safety_exempt(self, key_id: str, exempt: bool) -> KeyRow | None:
        with self._engine.begin() as conn:
            conn.execute(update(keys).where(keys.c.id == key_id).values(safety_exempt=exempt))
        return self.get_key(key_id)

    def set_key_status(self, key_id: str, status: KeyStatus) -> KeyRow | None:
        with self._engine.begin() as conn:
            conn.execute(update(keys).where(keys.c.id == key_id).values(status=status))
        return self.get_key(key_id)

    def set_key_apis(self, key_id: str, apis: str | None) -> KeyRow | None:
        with self._engine.begin() as conn:
            conn.execute(update(keys).where(keys.c.id == key_id).values(apis=apis))
        return self.get_key(key_id)

    def set_key_plan(self, key_id: str, plan: str | None, expires_at: int | None) -> KeyRow | None:
        with self._engine.begin() as conn:
            conn.execute(
                update(keys)
                .where(keys.c.id == key_id)
                .values(plan=plan, plan_expires_at=expires_at)
            )
        return self.get_key(key_id)

    # --- ledger ----------------------------------------------------------------------

    def record_usage(self, record: UsageRecord) -> bool:
        try:
            with self._engine.begin() as conn:
                conn.execute(usage.insert().values(**asdict(record)))
                if record.cost_nano:
                    # Atomic in the database: concurrent gateways never lose a charge.
                    conn.execute(
                        update(keys)
                        .where(keys.c.id == record.key_id, keys.c.balance_nano.is_not(None))
                        .values(balance_nano=keys.c.balance_nano - record.cost_nano)
                    )
        except IntegrityError:
            log.warning("usage record %s was already written", record.record_id)
            return False
        return True

    def usage_records(
        self, key_id: str | None = None, user_id: str | None = None
    ) -> list[UsageRecord]:
        query = select(usage).order_by(usage.c.created_at, usage.c.record_id)
        if key_id is not None:
            query = query.where(usage.c.key_id == key_id)
        if user_id is not None:
            query = query.where(usage.c.user_id == user_id)
        with self._engine.connect() as conn:
            return [UsageRecord(**r) for r in conn.execute(query).mappings()]

    def usage_summary(
        self,
        key_id: str | None = None,
        model: str | None = None,
        since: str | None = None,
        until: str | None = None,
        user_id: str | None = None,
    ) -> list[UsageSummary]:
        def total(column: Any) -> Any:
            return func.coalesce(func.sum(column), 0)

        def count_status(status: str) -> Any:
            return total(case((usage.c.status == status, 1), else_=0))

        conditions = []
        if key_id is not None:
            conditions.append(usage.c.key_id == key_id)
        if model is not None:
            conditions.append(usage.c.model == model)
        if since is not None:
            conditions.append(usage.c.day >= since)
        if until is not None:
            conditions.append(usage.c.day <= until)
        if user_id is not None:
            conditions.append(usage.c.user_id == user_id)
        group = (usage.c.key_id, usage.c.model, usage.c.day)
        query = (
            select(
                *group,
                func.count().label("requests"),
                count_status("error").label("errors"),
                count_status("cancelled").label("cancelled"),
                total(usage.c.prompt_tokens).label("prompt_tokens"),
                total(usage.c.cached_tokens).label("cached_tokens"),
                total(usage.c.completion_tokens).label("completion_tokens"),
                total(usage.c.cost_nano).label("cost_nano"),
                total(usage.c.reasoning_tokens).label("reasoning_tokens"),
            )
            .where(and_(true(), *conditions))
            .group_by(*group)
            .order_by(*group)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).mappings()
            return [UsageSummary(**{k: _plain(v) for k, v in r.items()}) for r in rows]

    def requests_on(self, key_id: str, day: str) -> int:
        query = select(func.count()).where(usage.c.key_id == key_id, usage.c.day == day)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # --- async tasks -----------------------------------------------------------------

    def create_task(self, task: TaskRow) -> None:
        with self._engine.begin() as conn:
            conn.execute(tasks.insert().values(**asdict(task)))

    def get_task(self, task_id: str) -> TaskRow | None:
        columns = [tasks.c[name] for name in TaskRow.__dataclass_fields__]
        with self._engine.connect() as conn:
            row = conn.execute(select(*columns).where(tasks.c.id == task_id)).mappings().first()
        return TaskRow(**row) if row else None

    def list_tasks(self, key_id: str | None = None, limit: int = 100) -> list[TaskRow]:
        columns = [tasks.c[name] for name in TaskRow.__dataclass_fields__]
        query = select(*columns).order_by(tasks.c.created_at.desc(), tasks.c.id).limit(limit)
        if key_id is not None:
            query = query.where(tasks.c.key_id == key_id)
        with self._engine.connect() as conn:
            return [TaskRow(**r) for r in conn.execute(query).mappings()]

    def count_tasks(self, key_id: str, status: TaskStatus) -> int:
        query = select(func.count()).where(tasks.c.key_id == key_id, tasks.c.status == status)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def claim_task(
        self, owner: str, now_ms: int, lease_ms: int, skip_keys: Sequence[str] = ()
    ) -> TaskRow | None:
        free = and_(
            tasks.c.status == "PROCESSING",
            or_(tasks.c.lease_until_ms.is_(None), tasks.c.lease_until_ms < now_ms),
        )
        query = select(tasks.c.id).where(free)
        if skip_keys:
            query = query.where(tasks.c.key_id.not_in(list(skip_keys)))
        with self._engine.begin() as conn:
            candidates = conn.execute(query.order_by(tasks.c.created_at).limit(5)).scalars()
            for task_id in list(candidates):
                # Compare-and-set: of several gateways racing for a task, exactly one wins.
                won = conn.execute(
                    update(tasks)
                    .where(tasks.c.id == task_id, free)
                    .values(lease_owner=owner, lease_until_ms=now_ms + lease_ms)
                ).rowcount
                if won:
                    break
            else:
                return None
        return self.get_task(task_id)

    def renew_tasks(self, owner: str, task_ids: Sequence[str], until_ms: int) -> None:
        if not task_ids:
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(tasks)
                .where(tasks.c.id.in_(list(task_ids)), tasks.c.lease_owner == owner)
                .values(lease_until_ms=until_ms)
            )

    def finish_task(self, task_id: str, status: TaskStatus, result_json: str, at: int) -> None:
        with self._engine.begin() as conn:
            conn.execute(
                update(tasks)
                .where(tasks.c.id == task_id)
                .values(
                    status=status,
                    result_json=result_json,
                    finished_at=at,
                    lease_owner=None,
                    lease_until_ms=None,
                )
            )

    def purge_tasks(self, finished_before: int) -> int:
        with self._engine.begin() as conn:
            result = conn.execute(
                tasks.delete().where(
                    tasks.c.finished_at.is_not(None), tasks.c.finished_at < finished_before
                )
            )
            return int(result.rowcount)

    def close(self) -> None:
        self._engine.dispose()


def _plain(value: Any) -> Any:
    """Sums come back as Decimal on PostgreSQL; the ledger's numbers are whole."""
    return value if isinstance(value, str) else int(value)
