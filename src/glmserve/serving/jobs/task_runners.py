"""The async task queue's runner (platform/tasks.py takes one): each stored task goes
to the family that stored it: async chat, an async agent run (its id says so), or an
image or video generation (its stored body is marked ``glmserve_task``)."""

from __future__ import annotations

import json
from typing import Any

from glmserve.errors import GlmServeError
from glmserve.platform.admission import Attempt
from glmserve.platform.tasks import TaskOutcome, TaskRunner
from glmserve.serving.agents.service import ASYNC_PREFIX
from glmserve.serving.images import TASK_MARK
from glmserve.store import TaskRow

__all__ = ["TaskRunners"]


class TaskRunners:
    def __init__(self, chat: TaskRunner) -> None:
        self.chat = chat
        self.agents: TaskRunner | None = None
        """Set once the agent room exists (it needs the platform's files)."""
        self.images: TaskRunner | None = None
        """The image and video room (docs/images.md)."""

    def _runner(self, row: TaskRow) -> TaskRunner:
        if row.id.startswith(ASYNC_PREFIX) and self.agents is not None:
            return self.agents
        if self.images is not None and _marked(row):
            return self.images
        return self.chat

    async def run(self, row: TaskRow, attempt: Attempt) -> TaskOutcome:
        return await self._runner(row).run(row, attempt)

    def failed(self, row: TaskRow, error: GlmServeError) -> dict[str, Any]:
        return self._runner(row).failed(row, error)


def _marked(row: TaskRow) -> bool:
    """An image or video task: its stored body carries the images room's mark."""
    if TASK_MARK not in row.request_json:  # cheap first: chat bodies are long
        return False
    try:
        stored = json.loads(row.request_json)
    except ValueError:
        return False
    return isinstance(stored, dict) and TASK_MARK in stored
