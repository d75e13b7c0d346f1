"""Chat completions as stored work: the job table's handler for ``chat`` (async tasks
and batch lines). The same parsing, preparing and engine as the synchronous endpoint; the
body is the synchronous endpoint's non-stream body, built here (an edge, as api/ is)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from glmserve.catalog import Price
from glmserve.platform.admission import Attempt
from glmserve.platform.auth import Principal
from glmserve.platform.ids import tool_call_id
from glmserve.protocol.chat import parse_chat_request
from glmserve.protocol.responses import result_body
from glmserve.serving.jobs.table import JobResult, JobUsage, PreparedJob
from glmserve.serving.models.registry import ModelRegistry
from glmserve.serving.run.completion import Completion, PreparedCompletion, collect_result
from glmserve.serving.service import CompletionService
from glmserve.store import TaskRow

__all__ = ["ChatJobs"]


class ChatJobs:
    def __init__(self, completions: CompletionService, models: ModelRegistry) -> None:
        self._completions = completions
        self._models = models

    async def prepare(self, body: Any, task: TaskRow | None = None) -> PreparedJob:
        # Through the bytes, so a batch line's nesting is bounded as an HTTP body's is.
        raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
        chat = parse_chat_request(raw, max_depth=self._completions.limits.max_json_depth)
        prepared = await self._completions.prepare_off_loop(chat)
        if task is not None:
            prepared = replace(
                prepared, id=task.id, request_id=task.request_id, created=task.created_at
            )
        return PreparedJob(
            id=prepared.id,
            model=prepared.model.code,
            request_id=prepared.request_id,
            created=prepared.created,
            work=prepared,
        )

    async def run(self, job: PreparedJob, attempt: Attempt | None, caller: str) -> JobResult:
        prepared: PreparedCompletion = job.work
        completion: Completion | None = None
        try:
            if attempt is not None:
                completion = await self._completions.start(prepared, attempt)
            else:
                # Content safety as on the synchronous endpoint; batch lines never turn
                # it off. A batch line answers with a whole body, whatever ``stream`` said.
                verdict = await self._completions.screen(prepared, Principal(caller))
                completion = self._completions.run(
                    replace(prepared, stream=False),
                    batch=True,
                    input_verdict=verdict,
                    tenant=caller,
                )
            result = await collect_result(completion)
        except asyncio.CancelledError:
            if completion is not None:
                completion.cancel()
            raise
        usage = JobUsage(
            prompt_tokens=result.usage.prompt_tokens,
            cached_tokens=result.usage.cached_tokens,
            completion_tokens=result.usage.completion_tokens,
            finish_reason=result.finish_reason,
        )
        return JobResult(status=200, body=result_body(result, tool_call_id), usage=usage)

    def batch_price(self, model: str) -> Price | None:
        served = self._models.get(model)
        return served.spec.batch_price if served is not None else None

    def model_code(self, model: str) -> str:
        served = self._models.get(model)
        return served.code if served is not None else model
