"""Batches: ``POST /batches``, ``GET /batches[/{id}]``, ``POST /batches/{id}/cancel``, and
the workers that run them.

What a line *is* (a chat completion, embeddings) is the serving layer's business: it
runs each line through a ``LineRunner`` at low priority; this module keeps the queue,
the progress and the files. A batch lives in the database: a worker claims it with a
lease it renews while running, and a batch whose gateway died is claimed again after
the lease runs out (by any gateway of the database). Each line's result is written
(ledger record first, then the result, both idempotent) as soon as the line ends, so a
restart runs only the lines that had not ended, and no result is lost or doubled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from glmserve.config.batches import BatchSettings
from glmserve.errors import (
    BalanceExhausted,
    BatchNotFound,
    GlmServeError,
    InvalidField,
    KeyRevoked,
)
from glmserve.platform.auth import Principal
from glmserve.platform.batch_input import (
    TooManyLines,
    parse_batch_request,
    parse_lines,
)
from glmserve.platform.batch_output import LineOutcome, batch_body, finish_files, line_result
from glmserve.platform.batch_rows import broken_result, line_rows, usage_record
from glmserve.platform.files import Files
from glmserve.platform.leases import Leases
from glmserve.platform.usage import Ledger
from glmserve.store import BatchLineRow, BatchRow, LineStatus, Repository

__all__ = ["Batches", "LineRunner", "LineOutcome"]

log = logging.getLogger(__name__)

_POLL_SECONDS = 1.0
_TERMINAL = ("failed", "completed", "expired", "cancelled")
_TRIES = 3
"""A batch (or a line) whose handling breaks unexpectedly this many times in a row on
this gateway fails (the line with an error line) instead of being tried forever."""


class LineRunner(Protocol):
    async def run(
        self, endpoint: str, body: dict[str, Any], key_id: str, may_start: Callable[[], bool]
    ) -> LineOutcome | None:
        """Run one line at low priority to its end; failures are outcomes. None: it did
        not start, because ``may_start()`` turned false while it waited its turn."""
        ...


class Batches:
    def __init__(
        self,
        repository: Repository,
        files: Files,
        runner: LineRunner,
        ledger: Ledger,
        settings: BatchSettings,
    ) -> None:
        self._repo = repository
        self._files = files
        self._runner = runner
        self._ledger = ledger
        self.settings = settings
        self._leases = Leases(repository.renew_batches, int(settings.lease_seconds * 1000), "batch")
        self._owner = self._leases.owner
        self._lease_ms = self._leases.lease_ms
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._held = self._leases.held
        self._stopping: set[str] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._broken: dict[str, int] = {}
        """Batch id, or batch id and line, -> unexpected failures in a row."""

    # --- the API ---------------------------------------------------------------------

    async def create(self, caller: Principal, payload: Any) -> dict[str, Any]:
        request = parse_batch_request(payload)
        source = await self._files.own(caller.key_id, request.input_file_id)
        if source.purpose != "batch":
            raise InvalidField(
                "input_file_id",
                f"file {source.id!r} has purpose {source.purpose!r}; a batch needs a file "
                "uploaded with purpose 'batch'.",
            )
        if caller.limited and caller.balance_nano is not None and caller.balance_nano <= 0:
            raise BalanceExhausted()
        cap = self.settings.max_open_per_key
        if await asyncio.to_thread(self._repo.count_open_batches, caller.key_id) >= cap:
            raise GlmServeError(
                f"At most {cap} batches of a key may be unfinished at once; wait for one "
                "to end or cancel one.",
                code="1302",
                status=429,
            )
        now = int(time.time())
        row = BatchRow(
            id=new_batch_id(),
            key_id=caller.key_id,
            endpoint=request.endpoint,
            input_file_id=source.id,
            completion_window=request.completion_window,
            status="validating",
            created_at=now,
            expires_at=now + request.window_seconds,
            metadata_json=json.dumps(request.metadata) if request.metadata is not None else None,
            auto_delete_input_file=request.auto_delete_input_file,
        )
        await asyncio.to_thread(self._repo.create_batch, row)
        self._wake.set()
        return batch_body(row)

    async def retrieve(self, caller: Principal, batch_id: str) -> dict[str, Any]:
        return batch_body(await self._own(caller, batch_id))

    async def listing(
        self, caller: Principal, after: str | None, limit: int | None
    ) -> dict[str, Any]:
        size = 20 if limit is None else limit
        if not 1 <= size <= 100:
            raise InvalidField("limit", "must be between 1 and 100.")
        rows = await asyncio.to_thread(self._repo.list_batches, caller.key_id, after, size + 1)
        data = [batch_body(r) for r in rows[:size]]
        return {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": len(rows) > size,
        }

    async def cancel(self, caller: Principal, batch_id: str) -> dict[str, Any]:
        row = await self._own(caller, batch_id)
        if row.status in ("cancelling", "cancelled"):
            return batch_body(row)
        moved = await asyncio.to_thread(
            self._repo.update_batch,
            batch_id,
            {"status": "cancelling", "cancelling_at": int(time.time())},
            ("validating", "in_progress"),
        )
        row = await self._own(caller, batch_id)
        if not moved and row.status not in ("cancelling", "cancelled"):
            raise InvalidField(
                "batch_id", f"batch {batch_id!r} is {row.status}; it cannot be cancelled."
            )
        self._stopping.add(batch_id)  # lines of it waiting on this gateway start no more
        self._wake.set()
        return batch_body(row)

    async def _own(self, caller: Principal, batch_id: str) -> BatchRow:
        row = await asyncio.to_thread(self._repo.get_batch, batch_id)
        # Another key's batch is reported exactly like a batch that does not exist.
        if row is None or row.key_id != caller.key_id:
            raise BatchNotFound(batch_id)
        return row

    # --- the workers -----------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._work()) for _ in range(self.settings.workers)]
        if self.settings.workers:
            self._loops.append(loop.create_task(self._leases.keep()))

    async def stop(self) -> None:
        """Graceful: lines not ended go back (they run again after a restart); the
        batches are handed back at once for the next start or another gateway."""
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []

    async def _work(self) -> None:
        while True:
            now_ms = int(time.time() * 1000)
            row = await asyncio.to_thread(
                self._repo.claim_batch, self._owner, now_ms, self._lease_ms
            )
            if row is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _POLL_SECONDS)
                continue
            self._held.add(row.id)
            try:
                await self._advance(row)
            except asyncio.CancelledError:
                await asyncio.to_thread(self._leases.hand_back, row.id)
                raise
            except Exception as exc:
                await self._broke(row, exc)
            else:
                self._broken.pop(row.id, None)
            finally:
                self._held.discard(row.id)
                self._stopping.discard(row.id)

    async def _advance(self, row: BatchRow) -> None:
        """Take a claimed batch through its states to a terminal one."""
        if row.status == "validating":
            row = await self._validate(row)
        if row.status == "in_progress":
            row = await self._run(row)
        if row.status in ("finalizing", "cancelling"):
            await self._finalize(row)
            return
        if row.status in _TERMINAL:
            await asyncio.to_thread(self._leases.hand_back, row.id)

    async def _broke(self, row: BatchRow, exc: Exception) -> None:
        """An unexpected failure: tried again later, up to _TRIES times in a row."""
        tries = self._broken.get(row.id, 0) + 1
        self._broken[row.id] = tries
        if tries < _TRIES:
            log.error("batch %s failed unexpectedly; it is tried again", row.id, exc_info=exc)
            await asyncio.sleep(_POLL_SECONDS)
            return
        log.error("batch %s failed unexpectedly %d times; it fails", row.id, tries, exc_info=exc)
        self._broken.pop(row.id, None)
        message = f"the batch could not be processed ({type(exc).__name__})."
        entry = {"code": "1234", "line": None, "param": None, "message": message}
        changes = {
            "status": "failed",
            "failed_at": int(time.time()),
            "errors_json": json.dumps([entry]),
        }
        try:
            await asyncio.to_thread(
                self._repo.update_batch,
                row.id,
                changes,
                ("validating", "in_progress", "finalizing"),
            )
            await asyncio.to_thread(self._repo.renew_batches, self._owner, [row.id], 0)
        except Exception:
            log.exception("batch %s could not be marked failed", row.id)

    async def _validate(self, row: BatchRow) -> BatchRow:
        now = int(time.time())
        try:
            source = await self._files.own(row.key_id, row.input_file_id)
            data = await self._files.read(source)
        except Exception:
            return await self._fail(
                row, "1214", "the input file no longer exists.", "input_file_id"
            )
        try:  # parsed off the event loop, and only up to one line too many
            good, bad = await asyncio.to_thread(
                parse_lines, data, row.endpoint, self.settings.max_lines
            )
        except TooManyLines as exc:
            return await self._fail(row, "1214", str(exc), None)
        finally:
            del data
        if not good:
            first = bad[0] if bad else None
            message = "the file has no request that can run." if first else "the file is empty."
            errors = [e.entry() for e in bad] or None
            return await self._fail(row, "1214", message, None, errors)
        lines = await asyncio.to_thread(line_rows, row.id, good, bad)
        changes: dict[str, Any] = {
            "status": "in_progress",
            "in_progress_at": now,
            "total": len(lines),
            "failed": len(bad),
            "errors_json": json.dumps([e.entry() for e in bad]) if bad else None,
        }
        await asyncio.to_thread(self._repo.start_batch, row.id, lines, changes)
        return await self._reload(row)

    async def _fail(
        self,
        row: BatchRow,
        code: str,
        message: str,
        param: str | None,
        errors: list[dict[str, Any]] | None = None,
    ) -> BatchRow:
        entries = errors or [{"code": code, "line": None, "message": message, "param": param}]
        changes = {
            "status": "failed",
            "failed_at": int(time.time()),
            "errors_json": json.dumps(entries),
        }
        await asyncio.to_thread(self._repo.update_batch, row.id, changes, ("validating",))
        return await self._reload(row)

    async def _reload(self, row: BatchRow) -> BatchRow:
        fresh = await asyncio.to_thread(self._repo.get_batch, row.id)
        return fresh if fresh is not None else row

    async def _run(self, row: BatchRow) -> BatchRow:
        """Start pending lines as slots free up, until none is left, the batch is
        cancelled, or its window closes."""
        running: set[asyncio.Task[None]] = set()
        last_line = 0
        try:
            while True:
                row = await self._reload(row)
                if row.status != "in_progress" or time.time() >= row.expires_at:
                    self._stopping.add(row.id)
                    break
                if await self._key_stops(row):
                    self._stopping.add(row.id)
                    break
                free = self.settings.concurrency - len(running)
                pending = (
                    await asyncio.to_thread(
                        self._repo.pending_lines, row.id, max(free, 0), last_line
                    )
                    if free > 0
                    else []
                )
                for line in pending:
                    last_line = line.line
                    running.add(asyncio.create_task(self._line(row, line)))
                if not running:
                    # A line whose run broke (a database error) is still pending:
                    # go round again from the start rather than finalize without it.
                    if not await asyncio.to_thread(self._repo.pending_lines, row.id, 1):
                        break
                    last_line = 0
                    await asyncio.sleep(_POLL_SECONDS)
                    continue
                done, _ = await asyncio.wait(
                    running, timeout=_POLL_SECONDS, return_when=asyncio.FIRST_COMPLETED
                )
                running -= done
                for task in done:
                    if task.exception() is not None:
                        log.error("a line of batch %s failed", row.id, exc_info=task.exception())
            # Lines that started keep what they finish; the others do not start.
            if running:
                await asyncio.wait(running)
        except asyncio.CancelledError:
            for task in running:
                task.cancel()
            raise
        row = await self._reload(row)
        if row.status == "in_progress":
            expired = time.time() >= row.expires_at
            changes = {"status": "finalizing", "finalizing_at": int(time.time())}
            await asyncio.to_thread(self._repo.update_batch, row.id, changes, ("in_progress",))
            row = await self._reload(row)
            if expired:
                row = replace(row, expired_at=int(time.time()))
        return row

    async def _key_stops(self, row: BatchRow) -> bool:
        """Whether the batch's key may no longer pay for lines (revoked, or its balance
        used up): if so the batch is cancelled, with the reason in its errors; the lines
        that ran are billed and in its output."""
        key = await asyncio.to_thread(self._repo.get_key, row.key_id)
        if key is None:  # open mode: nobody to bill
            return False
        error: KeyRevoked | BalanceExhausted
        if key.revoked:
            error = KeyRevoked()
        elif key.balance_nano is not None and key.balance_nano <= 0:
            error = BalanceExhausted()
        else:
            return False
        entries = json.loads(row.errors_json) if row.errors_json else []
        entries.append({"code": error.code, "line": None, "message": error.message, "param": None})
        changes = {
            "status": "cancelling",
            "cancelling_at": int(time.time()),
            "errors_json": json.dumps(entries),
        }
        await asyncio.to_thread(self._repo.update_batch, row.id, changes, ("in_progress",))
        return True

    async def _line(self, row: BatchRow, line: BatchLineRow) -> None:
        async with self._slots:
            key = f"{row.id}:{line.line}"
            try:
                await self._run_line(row, line)
            except Exception as exc:
                tries = self._broken.get(key, 0) + 1
                self._broken[key] = tries
                if tries < _TRIES:
                    raise
                # A line that breaks again and again (a store refusing its values) ends
                # as an error line instead of running every second forever.
                log.error("line %d of batch %s broke %d times; it fails", line.line, row.id, tries)
                await asyncio.to_thread(
                    self._repo.finish_line,
                    row.id,
                    line.line,
                    "failed",
                    broken_result(row, line, exc),
                )
            self._broken.pop(key, None)

    async def _run_line(self, row: BatchRow, line: BatchLineRow) -> None:
        body = json.loads(line.request_json)
        started = time.monotonic()
        outcome = await self._runner.run(
            row.endpoint, body, row.key_id, lambda: row.id not in self._stopping
        )
        if outcome is None:
            return
        # The ledger first (idempotent by record id), then the result: a restart
        # between the two runs the line again but neither bills nor outputs it twice.
        await self._ledger.write(usage_record(row, line, outcome, time.monotonic() - started))
        result = line_result(row.id, line, outcome)
        status: LineStatus = "succeeded" if outcome.status_code == 200 else "failed"
        await asyncio.to_thread(
            self._repo.finish_line,
            row.id,
            line.line,
            status,
            json.dumps(result, ensure_ascii=False),
        )

    async def _finalize(self, row: BatchRow) -> None:
        """Write the output and error files, then the terminal status."""
        if row.status == "cancelling":
            final, stamp = "cancelled", "cancelled_at"
        elif row.expired_at is not None or time.time() >= row.expires_at:
            final, stamp = "expired", "expired_at"
        else:
            final, stamp = "completed", "completed_at"
        output, errors = await finish_files(
            self._repo, self._files, row, expired=final == "expired"
        )
        changes = {
            "status": final,
            stamp: int(time.time()),
            "output_file_id": output,
            "error_file_id": errors,
        }
        if not await asyncio.to_thread(
            self._repo.update_batch, row.id, changes, ("finalizing", "cancelling")
        ):
            return
        if row.auto_delete_input_file:
            await self._files.remove(row.input_file_id)
        await asyncio.to_thread(self._leases.hand_back, row.id)


def new_batch_id() -> str:
    """Z.AI's shape: ``batch_`` and 19 digits (milliseconds, then random digits)."""
    return f"batch_{int(time.time() * 1000)}{secrets.randbelow(10**6):06d}"
