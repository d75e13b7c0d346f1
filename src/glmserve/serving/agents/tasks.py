"""Async agent runs, run by the platform's task workers (platform/tasks.py): a row
stored by ``AgentService.submit`` is run to its end and its ``AgentsCompletion`` body
stored for ``/v1/agents/async-result``. Stored in the database, a run outlives the
gateway: one that was queued or running when it stopped is run by the next start."""

from __future__ import annotations

import asyncio
from typing import Any

from glmserve.errors import GlmServeError
from glmserve.platform.admission import Attempt
from glmserve.platform.tasks import TaskOutcome
from glmserve.protocol.agents import AgentRequest, agent_body
from glmserve.protocol.responses import error_body
from glmserve.serving.agents.service import AgentService
from glmserve.store import TaskRow

__all__ = ["AgentTasks"]


class AgentTasks:
    def __init__(self, service: AgentService) -> None:
        self._service = service

    async def run(self, row: TaskRow, attempt: Attempt) -> TaskOutcome:
        request = AgentRequest.from_json(row.request_json)
        started = None
        try:
            started = await self._service.start(request, attempt.caller, attempt, async_id=row.id)
            body = await self._service.answer(started)
        except GlmServeError as exc:
            return "FAIL", self.failed(row, exc), exc
        except asyncio.CancelledError:
            if started is not None:
                started.run.cancel()
            raise
        return "SUCCESS", body, None

    def failed(self, row: TaskRow, error: GlmServeError) -> dict[str, Any]:
        request = AgentRequest.from_json(row.request_json)
        return agent_body(
            id=row.id,
            agent_id=request.agent_id,
            status="failed",
            contents=[],
            usage=None,
            request_id=row.request_id,
            conversation_id=request.conversation_id,
            async_id=row.id,
            finish_reason="network_error",
            error=error_body(error)["error"],
        )
