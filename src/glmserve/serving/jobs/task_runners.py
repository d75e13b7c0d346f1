"""The async task queue's runner (platform/tasks.py takes one): each stored task goes
to the family that stored it, async chat or an async agent run (its id says which)."""

from __future__ import annotations

from typing import Any

from glmserve.errors import GlmServeError
from glmserve.platform.admission import Attempt
from glmserve.platform.tasks import TaskOutcome, TaskRunner
from glmserve.serving.agents.service import ASYNC_PREFIX
from glmserve.store import TaskRow

__all__ = ["TaskRunners"]


class TaskRunners:
    def __init__(self, chat: TaskRunner) -> None:
        self.chat = chat
        self.agents: TaskRunner | None = None
        """Set once the agent room exists (it needs the platform's files)."""

    def _runner(self, row: TaskRow) -> TaskRunner:
        if row.id.startswith(ASYNC_PREFIX) and self.agents is not None:
            return self.agents
        return self.chat

    async def run(self, row: TaskRow, attempt: Attempt) -> TaskOutcome:
        return await self._runner(row).run(row, attempt)

    def failed(self, row: TaskRow, error: GlmServeError) -> dict[str, Any]:
        return self._runner(row).failed(row, error)
