"""The agent room: ready-made agents over the chat pipeline (docs/agents.md)."""

from glmserve.serving.agents.service import AgentService, Started

__all__ = ["AgentService", "Started"]
