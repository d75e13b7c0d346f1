"""The job table (serving/jobs/table.py) with a family's handler written here: how it
prepares a job once, turns errors into results, hands typed usage to a batch line's
outcome, runs a line again after preemption, and stores a task's kind and body. The
real families' handlers run end to end in tests/platform/test_batches.py and the async
tests of tests/platform/test_gateway.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from glmserve.catalog import Price
from glmserve.errors import GlmServeError, InvalidField
from glmserve.platform.admission import Attempt
from glmserve.serving.jobs.table import JobResult, JobTable, JobUsage, PreparedJob
from glmserve.serving.models.registry import ModelRegistry
from glmserve.serving.run.priority import Priority
from glmserve.store import TaskRow

PRICE = Price(input=1.0, cached_input=0.5, output=2.0)


class Echo:
    """A family whose job answers ``{"echo": body["text"]}`` with one token per letter."""

    def __init__(self) -> None:
        self.prepared = 0
        self.runs = 0
        self.callers: list[str] = []
        self.gate: asyncio.Event | None = None
        """When set, each run waits for it (so the test can preempt it first)."""

    async def prepare(self, body: Any, task: TaskRow | None = None) -> PreparedJob:
        self.prepared += 1
        if not isinstance(body.get("text"), str):
            raise InvalidField("text", "it must be a string.")
        return PreparedJob(
            id=task.id if task is not None else f"job-{self.prepared}",
            model=f"served-{body.get('model')}",
            request_id=task.request_id if task is not None else "rid",
            created=task.created_at if task is not None else 7,
            work=body["text"],
        )

    async def run(self, job: PreparedJob, attempt: Attempt | None, caller: str) -> JobResult:
        self.runs += 1
        self.callers.append(caller)
        if self.gate is not None:
            await self.gate.wait()
        text: str = job.work
        if text == "fail":
            raise GlmServeError("it failed", code="1234", status=500)
        usage = JobUsage(prompt_tokens=len(text), completion_tokens=len(text), finish_reason="stop")
        return JobResult(status=200, body={"echo": text, "model": job.model}, usage=usage)

    def batch_price(self, model: str) -> Price | None:
        return PRICE

    def model_code(self, model: str) -> str:
        return f"served-{model}"


def _table() -> tuple[JobTable, Echo, Priority]:
    priority = Priority(ModelRegistry([]), idle_seconds=0)
    table = JobTable(priority)
    echo = Echo()
    table.register("chat", echo)
    return table, echo, priority


def test_a_line_runs_to_an_outcome_with_typed_usage() -> None:
    table, echo, _ = _table()
    body = {"model": "m", "text": "abc"}
    outcome = asyncio.run(table.run_line("/v4/chat/completions", body, "key", lambda: True))
    assert outcome is not None
    assert outcome.status_code == 200 and outcome.body == {"echo": "abc", "model": "served-m"}
    assert (outcome.prompt_tokens, outcome.completion_tokens) == (3, 3)
    assert outcome.finish_reason == "stop" and outcome.price == PRICE
    assert outcome.model == "served-m" and echo.prepared == 1 and echo.callers == ["key"]


def test_a_bad_line_is_a_failed_outcome_named_by_its_model() -> None:
    table, _, _ = _table()
    outcome = asyncio.run(
        table.run_line("/v4/chat/completions", {"model": "m"}, "key", lambda: True)
    )
    assert outcome is not None and outcome.status_code == 400
    assert outcome.body["error"]["code"] == "1214" and outcome.model == "served-m"
    failed = asyncio.run(
        table.run_line("/v4/chat/completions", {"model": "m", "text": "fail"}, "k", lambda: True)
    )
    assert failed is not None and failed.status_code == 500
    assert failed.body["error"]["code"] == "1234" and failed.prompt_tokens == 0


def test_a_kind_without_a_handler_is_1222() -> None:
    table, _, _ = _table()
    outcome = asyncio.run(table.run_line("/v4/embeddings", {"model": "e"}, "k", lambda: True))
    assert outcome is not None
    assert (outcome.status_code, outcome.body["error"]["code"]) == (404, "1222")


def test_a_line_that_may_not_start_does_not_run() -> None:
    table, echo, _ = _table()
    body = {"model": "m", "text": "abc"}
    assert asyncio.run(table.run_line("/v4/chat/completions", body, "k", lambda: False)) is None
    assert echo.prepared == 0 and echo.runs == 0


def test_a_preempted_line_runs_again_prepared_once() -> None:
    table, echo, priority = _table()
    echo.gate = asyncio.Event()

    async def scenario() -> Any:
        line = asyncio.create_task(
            table.run_line("/v4/chat/completions", {"model": "m", "text": "ab"}, "k", lambda: True)
        )
        while echo.runs == 0:  # the line is running, waiting on the gate
            await asyncio.sleep(0)
        priority.interactive("m")  # an interactive start cancels the batch work
        while echo.runs < 2:  # it went round again
            await asyncio.sleep(0)
        assert echo.gate is not None
        echo.gate.set()
        return await line

    outcome = asyncio.run(scenario())
    assert outcome is not None and outcome.status_code == 200
    assert echo.runs == 2 and echo.prepared == 1


def test_a_task_is_stored_with_its_kind_and_run_as_prepared() -> None:
    table, echo, _ = _table()
    body = {"model": "m", "text": "héllo"}
    row = asyncio.run(table.new_task("chat", "key", body))
    assert (row.endpoint, row.model, row.request_id, row.status) == (
        "chat",
        "served-m",
        "rid",
        "PROCESSING",
    )
    assert json.loads(row.request_json) == body
    status, result, error = asyncio.run(table.run_task(row, None))  # type: ignore[arg-type]
    assert (status, error) == ("SUCCESS", None)
    assert result == {"echo": "héllo", "model": "served-m", "task_status": "SUCCESS"}
    assert echo.prepared == 1  # not prepared again


def test_a_task_from_another_process_is_prepared_again_keeping_its_ids() -> None:
    table, echo, _ = _table()
    row = TaskRow(
        id="task-1",
        key_id="key",
        model="served-m",
        request_id="client-rid",
        status="PROCESSING",
        request_json=json.dumps({"model": "m", "text": "fail"}),
        result_json=None,
        created_at=5,
        endpoint="chat",
    )
    status, result, error = asyncio.run(table.run_task(row, None))  # type: ignore[arg-type]
    assert status == "FAIL" and error is not None and echo.prepared == 1
    assert result["task_status"] == "FAIL" and result["id"] == "task-1"
    assert result["request_id"] == "client-rid" and result["error"]["code"] == "1234"


def test_a_bad_task_is_refused_at_submission() -> None:
    table, _, _ = _table()
    with pytest.raises(InvalidField):
        asyncio.run(table.new_task("chat", "key", {"model": "m"}))
    with pytest.raises(GlmServeError) as caught:
        asyncio.run(table.new_task("videos", "key", {"model": "m"}))
    assert caught.value.code == "1222"
