"""Async chat through the pipeline: a request is checked and stored on submission, and
run by the platform's task workers (platform/tasks.py) with this runner."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

from glmserve.errors import ConcurrencyExceeded, GlmServeError
from glmserve.platform.admission import Attempt
from glmserve.platform.tasks import TaskOutcome, status_body
from glmserve.protocol.chat import ChatCompletionRequest, parse_chat_request
from glmserve.protocol.responses import error_body
from glmserve.serving.run.completion import Completion, completion_result
from glmserve.serving.service import CompletionService
from glmserve.store import TaskRow

__all__ = ["ChatTasks"]


class ChatTasks:
    def __init__(self, completions: CompletionService) -> None:
        self._completions = completions

    def model_code(self, chat: ChatCompletionRequest) -> str:
        """The served model the request names (raises 1211): what admission counts."""
        return self._completions.model_for(chat).code

    async def new_task(self, key_id: str, body: Any, chat: ChatCompletionRequest) -> TaskRow:
        """The stored form of a request (its JSON value, as api/body.py read it, and
        parsed), checked now so a bad one is a 400 at once."""
        prepared = await self._completions.prepare_off_loop(chat)
        return TaskRow(
            id=prepared.id,
            key_id=key_id,
            model=prepared.model.code,
            request_id=prepared.request_id,
            status="PROCESSING",
            request_json=json.dumps(body, ensure_ascii=False),
            result_json=None,
            created_at=prepared.created,
        )

    async def run(self, row: TaskRow, attempt: Attempt) -> TaskOutcome:
        completion: Completion | None = None
        try:
            # Stored by new_task once it passed the body's checks: plain json is safe here.
            chat = parse_chat_request(
                json.loads(row.request_json),
                max_depth=self._completions.limits.max_json_depth,
            )
            # Admission first (the key's slot, its balance of now), then the costly work;
            # no free slot raises ConcurrencyExceeded: the task waits (platform/tasks.py).
            await self._completions.admit(chat, attempt, task_id=row.id)
        except ConcurrencyExceeded:
            raise
        except GlmServeError as exc:
            return "FAIL", self.failed(row, exc), exc
        try:
            prepared = await self._completions.prepare_off_loop(chat)
            prepared = replace(
                prepared, id=row.id, request_id=row.request_id, created=row.created_at
            )
            completion = await self._completions.start(prepared, attempt)
            body = await completion_result(completion)
        except GlmServeError as exc:
            return "FAIL", self.failed(row, exc), exc
        except asyncio.CancelledError:
            if completion is not None:
                completion.cancel()
            raise
        return "SUCCESS", {**body, "task_status": "SUCCESS"}, None

    def failed(self, row: TaskRow, error: GlmServeError) -> dict[str, Any]:
        return {**status_body(row), "task_status": "FAIL", **error_body(error)}
