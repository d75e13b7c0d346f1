"""What an agent is to the agent service: it checks a request into a job, then writes
the job's answer as typed contents while it drives its model calls (docs/agents.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from glmserve.platform.auth import Principal
from glmserve.protocol.agents import AgentRequest
from glmserve.serving.agents.calls import AgentRun

__all__ = ["Agent", "Content"]

Content = dict[str, Any]
"""A piece of the answer: ``{"type": "text", "text": ...}`` (pieces of one text join),
``{"type": "explanation", "text": ...}``, ``{"type": "file_url", ...}``."""


class Agent(Protocol):
    agent_id: str

    @property
    def runs_async(self) -> bool:
        """A non-stream invoke answers at once with an ``async_id`` (long runs)."""
        ...

    async def prepare(self, request: AgentRequest, caller: Principal) -> Any:
        """The checked job; a Z.AI error naming the field on bad input. No model call."""
        ...

    def contents(self, job: Any, run: AgentRun) -> AsyncIterator[Content]:
        """The answer, written while the model calls run (through ``run``)."""
        ...

    def conversation_id(self, job: Any) -> str | None:
        """The conversation the job is a turn of (None: the agent keeps none)."""
        ...

    async def keep_conversation(self, job: Any) -> str | None:
        """Save the job's conversation now if it is new (an async run's id must be
        known at once); its id, or None."""
        ...
