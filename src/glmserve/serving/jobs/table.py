"""The one job table for stored work: async tasks and batch lines.

Both are a stored request for an endpoint, run later, whose result is kept. The table
maps an endpoint's kind ("chat", "embeddings"; next "images", "videos", "agents", ...) to
its ``JobHandler``: the body in, validated and prepared once (``prepare``), then run
(``run``) to a ``JobResult``: the HTTP status and the wire body the synchronous endpoint
gives (what ``GET /async-result/{id}`` and a batch's output file hold), and the usage the
ledger records, typed, never read back out of the body. A new family registers its
handler once (``JobTable.register``) and gets async tasks and batch lines.

The table is the platform's ``TaskRunner`` (platform/tasks.py) and ``LineRunner``
(platform/batches.py): the platform keeps the queues, the leases and the files; what a
job *is* stays here. A batch line runs at low priority (run/priority.py): it waits
until its model is idle of interactive work, and gives way, to run again later, when an
interactive request starts; it takes no concurrency slot of the key's tier and is
billed at the model's batch price. docs/architecture.md, "Stored work: the job table".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from glmserve.catalog import Price
from glmserve.errors import ConcurrencyExceeded, GlmServeError
from glmserve.platform.admission import Attempt
from glmserve.platform.batch_input import endpoint_kind
from glmserve.platform.batch_output import LineOutcome
from glmserve.platform.batches import LineRunner
from glmserve.platform.tasks import TaskOutcome, TaskRunner, status_body
from glmserve.protocol.responses import error_body
from glmserve.serving.run.priority import Preempted, Priority
from glmserve.store import TaskRow

__all__ = ["JobHandler", "JobResult", "JobTable", "JobUsage", "PreparedJob"]


@dataclass(frozen=True)
class PreparedJob:
    """A job validated and prepared: what its handler runs, and what the task row
    records of it."""

    id: str
    model: str
    """The served model's code (the catalog's, where an alias was asked for)."""
    request_id: str
    created: int
    work: Any
    """The handler's own prepared request (chat: a ``PreparedCompletion``)."""


@dataclass(frozen=True)
class JobUsage:
    """What the ledger records of a job that ran."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""


@dataclass(frozen=True)
class JobResult:
    """How a job ended: the synchronous endpoint's HTTP status and body, and its usage
    (None when it failed before any work)."""

    status: int
    body: dict[str, Any]
    usage: JobUsage | None = None
    error: GlmServeError | None = field(default=None, compare=False)


class JobHandler(Protocol):
    """One endpoint's stored work. Errors are ``GlmServeError`` raised from ``prepare``
    or ``run`` (the table turns them into results); cancellation must stop the work."""

    async def prepare(self, body: Any, task: TaskRow | None = None) -> PreparedJob:
        """Validate and prepare the request ``body`` (its JSON value). ``task``: the
        stored task it is prepared again for (after a restart, or on another gateway),
        whose id, request_id and creation time it keeps."""
        ...

    async def run(self, job: PreparedJob, attempt: Attempt | None, caller: str) -> JobResult:
        """Run the job of the key ``caller`` to its end: admitted and metered through
        ``attempt`` (an async task), or without admission (``None``: a batch line, at
        low priority)."""
        ...

    def batch_price(self, model: str) -> Price | None:
        """What a batch line for ``model`` costs per million tokens."""
        ...

    def model_code(self, model: str) -> str:
        """The served model's code for a requested name (the record of a line that
        failed before it was prepared names it)."""
        ...


class JobTable:
    def __init__(self, priority: Priority) -> None:
        self._priority = priority
        self._handlers: dict[str, JobHandler] = {}
        self._runners: dict[str, TaskRunner] = {}
        self._prepared: dict[str, PreparedJob] = {}
        """Tasks prepared on submission, until a worker of this process runs them."""

    def register(self, kind: str, handler: JobHandler) -> None:
        """Serve an endpoint kind ("chat", "embeddings", ...) as stored work."""
        self._handlers[kind] = handler

    def register_runner(self, kind: str, runner: TaskRunner) -> None:
        """A family whose async tasks run through a task runner of its own (the agents
        room, which stores and shapes its runs itself): its rows, stored with ``kind``
        as their endpoint, go to ``runner``. Such a family has no batch lines."""
        self._runners[kind] = runner

    def handler(self, kind: str) -> JobHandler:
        found = self._handlers.get(kind)
        if found is None:
            raise GlmServeError(f"'{kind}' requests are not served here.", code="1222", status=404)
        return found

    # --- async tasks (platform/tasks.py's TaskRunner) ----------------------------------

    async def new_task(self, kind: str, key_id: str, body: Any) -> TaskRow:
        """The stored form of a request (its JSON value, as api/body.py read it),
        validated and prepared now, so a bad one is a 400 at once and a worker of this
        process runs what was prepared here."""
        job = await self.handler(kind).prepare(body)
        self._prepared[job.id] = job
        return TaskRow(
            id=job.id,
            key_id=key_id,
            model=job.model,
            request_id=job.request_id,
            status="PROCESSING",
            request_json=json.dumps(body, ensure_ascii=False),
            result_json=None,
            created_at=job.created,
            endpoint=kind,
        )

    def forget(self, task_id: str) -> None:
        """A task that was prepared but not stored (its submission failed)."""
        self._prepared.pop(task_id, None)

    @property
    def tasks(self) -> TaskRunner:
        """The table as the platform's task queue runs it."""
        return _Tasks(self)

    @property
    def lines(self) -> LineRunner:
        """The table as the platform's batches run it."""
        return _Lines(self)

    async def run_task(self, row: TaskRow, attempt: Attempt) -> TaskOutcome:
        runner = self._runners.get(row.endpoint)
        if runner is not None:
            return await runner.run(row, attempt)
        job = self._prepared.pop(row.id, None)
        try:
            handler = self.handler(row.endpoint)
            if job is None:  # stored by another gateway, or before a restart
                job = await handler.prepare(json.loads(row.request_json), row)
            result = await handler.run(job, attempt, row.key_id)
        except ConcurrencyExceeded:
            # The key has no free slot: the task waits its turn (platform/tasks.py).
            if job is not None:
                self._prepared[row.id] = job
            raise
        except GlmServeError as exc:
            return "FAIL", self.failed_task(row, exc), exc
        if result.error is not None:
            return "FAIL", self.failed_task(row, result.error), result.error
        return "SUCCESS", {**result.body, "task_status": "SUCCESS"}, None

    def failed_task(self, row: TaskRow, error: GlmServeError) -> dict[str, Any]:
        runner = self._runners.get(row.endpoint)
        if runner is not None:
            return runner.failed(row, error)
        return {**status_body(row), "task_status": "FAIL", **error_body(error)}

    # --- batch lines (platform/batches.py's LineRunner) ----------------------------------

    async def run_line(
        self, endpoint: str, body: dict[str, Any], key_id: str, may_start: Callable[[], bool]
    ) -> LineOutcome | None:
        model = body.get("model") if isinstance(body.get("model"), str) else ""
        assert isinstance(model, str)
        kind = endpoint_kind(endpoint) or "chat"
        try:
            handler = self.handler(kind)
        except GlmServeError as exc:
            return _outcome(_failure(exc), model or "", None)
        job: PreparedJob | None = None
        while True:
            await self._priority.wait_idle(model)
            if not may_start():
                return None
            try:
                async with self._priority.batch_work(model):
                    if job is None:
                        job = await handler.prepare(body)
                    result = await handler.run(job, None, key_id)
            except Preempted:
                continue
            except GlmServeError as exc:
                result = _failure(exc)
            served = job.model if job is not None else handler.model_code(model)
            return _outcome(result, served, handler.batch_price(model))


class _Tasks:
    def __init__(self, table: JobTable) -> None:
        self._table = table

    async def run(self, row: TaskRow, attempt: Attempt) -> TaskOutcome:
        return await self._table.run_task(row, attempt)

    def failed(self, row: TaskRow, error: GlmServeError) -> dict[str, Any]:
        return self._table.failed_task(row, error)


class _Lines:
    def __init__(self, table: JobTable) -> None:
        self._table = table

    async def run(
        self, endpoint: str, body: dict[str, Any], key_id: str, may_start: Callable[[], bool]
    ) -> LineOutcome | None:
        return await self._table.run_line(endpoint, body, key_id, may_start)


def _failure(error: GlmServeError) -> JobResult:
    return JobResult(status=error.status, body=error_body(error), error=error)


def _outcome(result: JobResult, model: str, price: Price | None) -> LineOutcome:
    usage = result.usage or JobUsage()
    return LineOutcome(
        status_code=result.status,
        body=result.body,
        model=model,
        price=price,
        prompt_tokens=usage.prompt_tokens,
        cached_tokens=usage.cached_tokens,
        completion_tokens=usage.completion_tokens,
        finish_reason=usage.finish_reason,
    )
