"""Files and batches on SQLAlchemy Core (SQLite or PostgreSQL): a part of SqlRepository."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from glmserve.store.batch_records import BatchLineRow, BatchRow, BatchStatus, FileRow, LineStatus
from glmserve.store.schema import batch_lines, batches, files

__all__ = ["SqlBatches"]

_CLAIMABLE = ("validating", "in_progress", "finalizing", "cancelling")


class SqlBatches:
    _engine: Engine

    # --- files -----------------------------------------------------------------------

    def create_file(self, row: FileRow) -> bool:
        """False if a file with this id exists already."""
        try:
            with self._engine.begin() as conn:
                conn.execute(files.insert().values(**asdict(row)))
        except IntegrityError:
            return False
        return True

    def get_file(self, file_id: str) -> FileRow | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(files).where(files.c.id == file_id)).mappings().first()
        return FileRow(**row) if row else None

    def list_files(
        self,
        key_id: str,
        purpose: str | None,
        after: str | None,
        limit: int,
        newest_first: bool = True,
    ) -> list[FileRow]:
        query = select(files).where(files.c.key_id == key_id)
        if purpose is not None:
            query = query.where(files.c.purpose == purpose)
        order = (files.c.created_at, files.c.id)
        query = query.where(_after(files, after, newest_first)).order_by(
            *(c.desc() if newest_first else c for c in order)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query.limit(limit)).mappings()
            return [FileRow(**r) for r in rows]

    def count_files(self, key_id: str, purpose: str) -> int:
        query = select(func.count()).where(files.c.key_id == key_id, files.c.purpose == purpose)
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def delete_file(self, file_id: str) -> bool:
        with self._engine.begin() as conn:
            return int(conn.execute(files.delete().where(files.c.id == file_id)).rowcount) == 1

    # --- batches ---------------------------------------------------------------------

    def create_batch(self, row: BatchRow) -> None:
        with self._engine.begin() as conn:
            conn.execute(batches.insert().values(**asdict(row)))

    def get_batch(self, batch_id: str) -> BatchRow | None:
        columns = [batches.c[name] for name in BatchRow.__dataclass_fields__]
        with self._engine.connect() as conn:
            row = conn.execute(select(*columns).where(batches.c.id == batch_id)).mappings().first()
        return BatchRow(**row) if row else None

    def list_batches(self, key_id: str, after: str | None, limit: int) -> list[BatchRow]:
        columns = [batches.c[name] for name in BatchRow.__dataclass_fields__]
        query = (
            select(*columns)
            .where(batches.c.key_id == key_id, _after(batches, after, True))
            .order_by(batches.c.created_at.desc(), batches.c.id.desc())
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [BatchRow(**r) for r in conn.execute(query).mappings()]

    def count_open_batches(self, key_id: str) -> int:
        """The key's batches not yet in a terminal state."""
        ended = ("failed", "completed", "expired", "cancelled")
        query = select(func.count()).where(
            batches.c.key_id == key_id, batches.c.status.not_in(ended)
        )
        with self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def update_batch(
        self,
        batch_id: str,
        changes: Mapping[str, Any],
        expect: Sequence[BatchStatus] | None = None,
    ) -> bool:
        """Set fields; with ``expect``, only if the status is one of those (compare and
        set, so a cancel and the worker's next step never overwrite each other)."""
        query = update(batches).where(batches.c.id == batch_id)
        if expect is not None:
            query = query.where(batches.c.status.in_(list(expect)))
        with self._engine.begin() as conn:
            return int(conn.execute(query.values(**changes)).rowcount) == 1

    def claim_batch(self, owner: str, now_ms: int, lease_ms: int) -> BatchRow | None:
        """Take one unfinished batch nobody holds (or whose holder's lease ran out)."""
        free = and_(
            batches.c.status.in_(_CLAIMABLE),
            or_(batches.c.lease_until_ms.is_(None), batches.c.lease_until_ms < now_ms),
        )
        with self._engine.begin() as conn:
            candidates = conn.execute(
                select(batches.c.id).where(free).order_by(batches.c.created_at).limit(5)
            ).scalars()
            for batch_id in list(candidates):
                won = conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id, free)
                    .values(lease_owner=owner, lease_until_ms=now_ms + lease_ms)
                ).rowcount
                if won:
                    break
            else:
                return None
        return self.get_batch(batch_id)

    def renew_batches(self, owner: str, batch_ids: Sequence[str], until_ms: int) -> None:
        if not batch_ids:
            return
        with self._engine.begin() as conn:
            conn.execute(
                update(batches)
                .where(batches.c.id.in_(list(batch_ids)), batches.c.lease_owner == owner)
                .values(lease_until_ms=until_ms)
            )

    # --- lines -----------------------------------------------------------------------

    def start_batch(
        self,
        batch_id: str,
        lines: Sequence[BatchLineRow],
        changes: Mapping[str, Any],
    ) -> bool:
        """Store the lines of a validated batch and move it on, in one transaction: a
        gateway that dies while validating leaves nothing half done."""
        with self._engine.begin() as conn:
            moved = conn.execute(
                update(batches)
                .where(batches.c.id == batch_id, batches.c.status == "validating")
                .values(**changes)
            ).rowcount
            if not moved:
                return False
            if lines:
                conn.execute(batch_lines.insert(), [asdict(line) for line in lines])
        return True

    def pending_lines(self, batch_id: str, limit: int, after_line: int = 0) -> list[BatchLineRow]:
        query = (
            select(batch_lines)
            .where(
                batch_lines.c.batch_id == batch_id,
                batch_lines.c.status == "pending",
                batch_lines.c.line > after_line,
            )
            .order_by(batch_lines.c.line)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            return [BatchLineRow(**r) for r in conn.execute(query).mappings()]

    def finish_line(self, batch_id: str, line: int, status: LineStatus, result_json: str) -> bool:
        """Record a line's result and count it, once: False if it had ended already."""
        counter = batches.c.completed if status == "succeeded" else batches.c.failed
        with self._engine.begin() as conn:
            done = conn.execute(
                update(batch_lines)
                .where(
                    batch_lines.c.batch_id == batch_id,
                    batch_lines.c.line == line,
                    batch_lines.c.status == "pending",
                )
                .values(status=status, result_json=result_json)
            ).rowcount
            if done:
                conn.execute(
                    update(batches)
                    .where(batches.c.id == batch_id)
                    .values({counter.key: counter + 1})
                )
        return bool(done)

    def ended_lines(self, batch_id: str, status: LineStatus) -> list[BatchLineRow]:
        query = (
            select(batch_lines)
            .where(batch_lines.c.batch_id == batch_id, batch_lines.c.status == status)
            .order_by(batch_lines.c.line)
        )
        with self._engine.connect() as conn:
            return [BatchLineRow(**r) for r in conn.execute(query).mappings()]


def _after(table: Any, after: str | None, newest_first: bool) -> Any:
    """Cursor pagination: the rows after the one with id ``after`` in the list order."""
    if after is None:
        return true()
    anchor = select(table.c.created_at).where(table.c.id == after).scalar_subquery()
    if newest_first:
        return or_(
            table.c.created_at < anchor,
            and_(table.c.created_at == anchor, table.c.id < after),
        )
    return or_(
        table.c.created_at > anchor,
        and_(table.c.created_at == anchor, table.c.id > after),
    )
