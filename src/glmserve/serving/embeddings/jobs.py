"""Embeddings as stored work: the job table's handler for ``embeddings`` (batch lines;
the synchronous endpoint's body, billed at the batch price rather than through
admission)."""

from __future__ import annotations

from typing import Any

from glmserve.catalog import BATCH_DISCOUNT, Price
from glmserve.errors import InvalidRequest
from glmserve.platform.admission import Attempt
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.protocol.embeddings import embedding_body
from glmserve.serving.embeddings.service import EmbeddingService
from glmserve.serving.jobs.table import JobResult, JobUsage, PreparedJob
from glmserve.store import TaskRow

__all__ = ["EmbeddingJobs"]


class EmbeddingJobs:
    def __init__(self, embeddings: EmbeddingService) -> None:
        self._embeddings = embeddings

    async def prepare(self, body: Any, task: TaskRow | None = None) -> PreparedJob:
        # The body is checked when it runs (EmbeddingService.create parses it once).
        if not isinstance(body, dict):
            raise InvalidRequest("The request body must be a JSON object.")
        model = body.get("model")
        record = task.id if task is not None else completion_id()
        return PreparedJob(
            id=record,
            model=model if isinstance(model, str) else "",
            request_id=task.request_id if task is not None else record,
            created=task.created_at if task is not None else now_seconds(),
            work=body,
        )

    async def run(self, job: PreparedJob, attempt: Attempt | None, caller: str) -> JobResult:
        done = await self._embeddings.create(job.work, attempt)
        body = embedding_body(done.model, done.vectors, done.prompt_tokens, done.encoding_format)
        return JobResult(status=200, body=body, usage=JobUsage(prompt_tokens=done.prompt_tokens))

    def batch_price(self, model: str) -> Price | None:
        return self._embeddings.price(model).times(BATCH_DISCOUNT)

    def model_code(self, model: str) -> str:
        return model
