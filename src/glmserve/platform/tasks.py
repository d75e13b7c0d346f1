"""Async tasks: ``POST /async/chat/completions`` stores a task; workers run it; ``GET
/async-result/{id}`` reads it (Z.AI's PROCESSING, SUCCESS, FAIL).

What a task *is* (a chat completion) is the serving layer's business: it prepares the
row on submission and runs it through a ``TaskRunner``; this module keeps the queue.

Tasks live in the database, so they outlive the process: a worker claims a task with a
lease it renews while running; a task whose gateway stopped (or died) is claimed again
after its lease runs out, by any gateway of the same database. A graceful shutdown hands
its running tasks back at once. Finished tasks stay readable for the retention time.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any, Protocol

from glmserve.errors import (
    BalanceExhausted,
    ConcurrencyExceeded,
    GlmServeError,
    KeyRevoked,
    TaskNotFound,
    TooManyWaiting,
)
from glmserve.platform.admission import Admission, Attempt
from glmserve.platform.auth import Principal
from glmserve.platform.leases import Leases
from glmserve.store import Repository, TaskRow, TaskStatus

__all__ = ["AsyncTasks", "TaskRunner", "TaskOutcome", "status_body"]

TaskOutcome = tuple[TaskStatus, dict[str, Any], GlmServeError | None]
"""How a task ended: its status, the result body clients read, the error if any."""


class TaskRunner(Protocol):
    async def run(self, row: TaskRow, attempt: Attempt) -> TaskOutcome:
        """Run the stored request to its end (admitted through ``attempt``); failures
        are outcomes, not exceptions. Only cancellation propagates, and
        ``ConcurrencyExceeded`` from the admission before any work: the key has its
        tier's requests in flight, and the task waits for a slot."""
        ...

    def failed(self, row: TaskRow, error: GlmServeError) -> dict[str, Any]:
        """The result body of a task that failed with ``error``."""
        ...


log = logging.getLogger(__name__)

_LEASE_MS = 60_000
_POLL_SECONDS = 1.0
_PURGE_EVERY = 600.0
_DEFER_MS = 1_000
"""A task whose key has no free slot waits this long before it is tried again."""


class AsyncTasks:
    def __init__(
        self,
        repository: Repository,
        runner: TaskRunner,
        admission: Admission,
        *,
        workers: int,
        retention_seconds: int,
        max_queued_per_key: int = 100,
        open_access: bool = False,
    ) -> None:
        self._repo = repository
        self._runner = runner
        self._admission = admission
        self._workers = workers
        self._retention = retention_seconds
        self._max_queued = max_queued_per_key
        self._open = open_access
        self._deferred: dict[str, float] = {}
        """Keys whose task found no free slot, until when their tasks are not taken."""
        self._running_keys: dict[str, int] = {}
        self._leases = Leases(repository.renew_tasks, _LEASE_MS, "async task")
        self._owner = self._leases.owner
        self._wake = asyncio.Event()
        self._running = self._leases.held
        self._loops: list[asyncio.Task[None]] = []

    async def admit(self, caller: Principal, model: str) -> None:
        """The checks of a submission, before its request is prepared: the key's cap on
        waiting tasks (1302), its balance (1113) and its per-minute and per-day limits
        (1303, 1304), where the task is counted: the codes a synchronous request gets."""
        if caller.limited:
            waiting = await asyncio.to_thread(self._repo.count_tasks, caller.key_id, "PROCESSING")
            if waiting >= self._max_queued:
                raise TooManyWaiting("async tasks", self._max_queued)
        await self._admission.count(caller, model)

    async def submit(self, caller: Principal, row: TaskRow) -> dict[str, Any]:
        """Queue a prepared task (checked already, so a bad request was a 400, not a
        FAIL later); its status body."""
        if caller.limited and caller.balance_nano is not None and caller.balance_nano <= 0:
            raise BalanceExhausted()
        await asyncio.to_thread(self._repo.create_task, row)
        self._wake.set()
        return status_body(row)

    async def result(self, caller: Principal, task_id: str) -> dict[str, Any]:
        row = await asyncio.to_thread(self._repo.get_task, task_id)
        # Another key's task is reported exactly like a task that does not exist.
        if row is None or row.key_id != caller.key_id:
            raise TaskNotFound(task_id)
        if row.result_json is None:
            return status_body(row)
        result: dict[str, Any] = json.loads(row.result_json)
        return result

    def list(self, key_id: str | None, limit: int = 100) -> list[dict[str, Any]]:
        """The newest tasks of one key (None: of every key), as status bodies with
        their key and times; blocking (call it off the loop)."""
        rows = self._repo.list_tasks(key_id, limit)
        return [
            {**status_body(r), "key": r.key_id, "created": r.created_at, "finished": r.finished_at}
            for r in rows
        ]

    # --- the workers -----------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [loop.create_task(self._work()) for _ in range(self._workers)]
        if self._workers:
            self._loops.append(loop.create_task(self._leases.keep()))
        self._loops.append(loop.create_task(self._purge_forever()))

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []

    async def _claim(self) -> TaskRow | None:
        """The next task, taking turns between keys: first the oldest task of a key
        with none running here, and none waiting for a slot; else any but the latter."""
        now = time.time()
        self._deferred = {k: until for k, until in self._deferred.items() if until > now}
        waiting = set(self._deferred)
        busy = waiting | set(self._running_keys)
        now_ms = int(now * 1000)
        row = await asyncio.to_thread(
            self._repo.claim_task, self._owner, now_ms, _LEASE_MS, sorted(busy)
        )
        if row is None and busy != waiting:
            row = await asyncio.to_thread(
                self._repo.claim_task, self._owner, now_ms, _LEASE_MS, sorted(waiting)
            )
        return row

    async def _work(self) -> None:
        while True:
            row = await self._claim()
            if row is None:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), _POLL_SECONDS)
                continue
            try:
                await self._run(row)
            except asyncio.CancelledError:
                # Shutting down: hand the task back for the next start (or another gateway).
                self._leases.hand_back(row.id)
                raise
            except Exception:
                log.exception("async task %s failed unexpectedly", row.id)
                fail = self._runner.failed(row, GlmServeError("Internal Error", code="500"))
                await asyncio.to_thread(self._finish, row, "FAIL", fail)

    async def _run(self, row: TaskRow) -> None:
        caller = await asyncio.to_thread(self._caller, row.key_id)
        attempt = self._admission.attempt(caller or Principal(row.key_id), "async")
        attempt.record_id = row.id
        attempt.counted = True  # on submission; it takes its concurrency slot now
        if caller is not None and caller.limited:
            attempt.balance_now = lambda: self._balance(row.key_id)
        attempt.describe(row.model, row.request_id)
        if caller is None:  # revoked while it waited: it does not run
            revoked = KeyRevoked()
            attempt.close(revoked)
            await asyncio.to_thread(self._finish, row, "FAIL", self._runner.failed(row, revoked))
            return
        self._running.add(row.id)
        self._running_keys[row.key_id] = self._running_keys.get(row.key_id, 0) + 1
        try:
            status, result, error = await self._runner.run(row, attempt)
        except ConcurrencyExceeded:
            # The key's tier has its requests in flight: the task waits its turn.
            self._deferred[row.key_id] = time.time() + _DEFER_MS / 1000
            until = int(time.time() * 1000) + _DEFER_MS
            await asyncio.to_thread(self._repo.renew_tasks, self._owner, [row.id], until)
            return
        finally:
            self._running.discard(row.id)
            left = self._running_keys.pop(row.key_id, 1) - 1
            if left:
                self._running_keys[row.key_id] = left
        attempt.close(error)
        await asyncio.to_thread(self._finish, row, status, result)

    def _balance(self, key_id: str) -> int | None:
        key = self._repo.get_key(key_id)
        return key.balance_nano if key is not None else None

    def _caller(self, key_id: str) -> Principal | None:
        """Who the task runs as, read now: the key's tier and balance of this moment;
        None if the key has been revoked. Blocking (call it off the loop)."""
        if self._open:
            return Principal(key_id)
        key = self._repo.get_key(key_id)
        if key is None:
            return Principal(key_id)
        if key.revoked:
            return None
        return Principal(
            key.id,
            key.tier,
            key.balance_nano,
            limited=True,
            safety_exempt=key.safety_exempt,
            status=key.status,
            plan=key.plan,
            plan_expires_at=key.plan_expires_at,
            apis=tuple(key.apis.split(",")) if key.apis is not None else None,
        )

    def _finish(self, row: TaskRow, status: TaskStatus, result: dict[str, Any]) -> None:
        self._repo.finish_task(row.id, status, json.dumps(result), int(time.time()))

    async def _purge_forever(self) -> None:
        while True:
            try:
                cutoff = int(time.time()) - self._retention
                await asyncio.to_thread(self._repo.purge_tasks, cutoff)
            except Exception:
                log.warning("purging old async tasks failed", exc_info=True)
            await asyncio.sleep(_PURGE_EVERY)


def status_body(row: TaskRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "request_id": row.request_id,
        "model": row.model,
        "task_status": row.status,
    }
