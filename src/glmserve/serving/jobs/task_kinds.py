"""The async task runner the platform's workers use: chat tasks, and image and video
tasks (their stored body is marked ``glmserve_task``), each run by its own room."""

from __future__ import annotations

import json
from typing import Any

from glmserve.errors import GlmServeError
from glmserve.platform.admission import Attempt
from glmserve.platform.tasks import TaskOutcome, TaskRunner
from glmserve.serving.images import TASK_MARK, ImageService
from glmserve.store import TaskRow

__all__ = ["TaskKinds"]


class TaskKinds:
    def __init__(self, chat: TaskRunner, images: ImageService) -> None:
        self._chat = chat
        self._images = images

    def _runner(self, row: TaskRow) -> TaskRunner:
        try:
            stored = json.loads(row.request_json)
        except ValueError:
            return self._chat
        if isinstance(stored, dict) and TASK_MARK in stored:
            return self._images
        return self._chat

    async def run(self, row: TaskRow, attempt: Attempt) -> TaskOutcome:
        return await self._runner(row).run(row, attempt)

    def failed(self, row: TaskRow, error: GlmServeError) -> dict[str, Any]:
        return self._runner(row).failed(row, error)
