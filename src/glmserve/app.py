"""The application object: owns the settings, the served models and the services.

Nothing in glmserve keeps module-level state; everything hangs off one ``GlmServe``
passed to the HTTP layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from glmserve.config import Settings
from glmserve.platform.auth import Authenticator
from glmserve.platform.service import Platform, open_store
from glmserve.serving.agents import AgentService
from glmserve.serving.agents.tasks import AgentTasks
from glmserve.serving.embeddings.service import EmbeddingService, load_embeddings
from glmserve.serving.jobs.async_chat import ChatTasks
from glmserve.serving.jobs.batch_lines import BatchLines
from glmserve.serving.jobs.task_runners import TaskRunners
from glmserve.serving.metrics import Metrics
from glmserve.serving.models.registry import ModelRegistry, load_models
from glmserve.serving.run.priority import Priority
from glmserve.serving.safety import SafetyService
from glmserve.serving.service import CompletionService
from glmserve.store import Repository

__all__ = ["GlmServe"]


@dataclass
class GlmServe:
    settings: Settings
    models: ModelRegistry
    repository: Repository
    embeddings: EmbeddingService = field(default_factory=lambda: EmbeddingService([]))
    """Embedding models and the rerank endpoint (docs/embeddings.md)."""
    metrics: Metrics = field(init=False)
    safety: SafetyService = field(init=False)
    """Content safety ([safety]): chat's content filter and ``/moderations``."""
    completions: CompletionService = field(init=False)
    chat_tasks: ChatTasks = field(init=False)
    batch_lines: BatchLines = field(init=False)
    platform: Platform = field(init=False)
    agents: AgentService = field(init=False)
    """The agents API (docs/agents.md)."""

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.models)
        self.safety = SafetyService(self.settings.safety, self.models)
        idle = self.settings.platform.batches.idle_ms / 1000
        self.completions = CompletionService(
            self.models,
            metrics=self.metrics,
            prompt_log=self.settings.prompt_log,
            limits=self.settings.http,
            priority=Priority(self.models, idle),
            media=self.settings.media,
            content_filter=self.safety.content_filter,
        )
        self.chat_tasks = ChatTasks(self.completions)
        assert self.completions.priority is not None
        self.batch_lines = BatchLines(
            self.completions, self.models, self.completions.priority, self.embeddings
        )
        runners = TaskRunners(self.chat_tasks)
        self.platform = Platform.open(
            self.settings.platform, self.repository, runners, self.batch_lines
        )
        self.agents = AgentService(
            self.completions, self.models, self.platform.files, self.settings.agents
        )
        runners.agents = AgentTasks(self.agents)

    @property
    def auth(self) -> Authenticator:
        return self.platform.auth

    @classmethod
    def load(cls, settings: Settings, *, progress: bool = True) -> GlmServe:
        repository = open_store(settings.platform)
        try:
            models = load_models(settings, progress=progress)
        except BaseException:
            repository.close()
            raise
        try:
            embeddings = load_embeddings(settings, progress=progress)
        except BaseException:
            models.close()
            repository.close()
            raise
        try:
            return cls(settings, models, repository, embeddings)
        except BaseException:
            models.close()
            embeddings.close()
            repository.close()
            raise

    async def start(self) -> None:
        await self.platform.start()

    async def stop(self) -> None:
        await self.platform.stop()

    def close(self) -> None:
        self.completions.close()
        self.models.close()
        self.embeddings.close()
        self.platform.close()
