"""The application object: owns the settings, the served models and the services.

Nothing in glmserve keeps module-level state; everything hangs off one ``GlmServe``
passed to the HTTP layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from glmserve.config import Settings
from glmserve.platform.auth import Authenticator
from glmserve.platform.service import Platform, open_store
from glmserve.serving.async_chat import ChatTasks
from glmserve.serving.completions import CompletionService
from glmserve.serving.metrics import Metrics
from glmserve.serving.models import ModelRegistry, load_models
from glmserve.store import Repository

__all__ = ["GlmServe"]


@dataclass
class GlmServe:
    settings: Settings
    models: ModelRegistry
    repository: Repository
    metrics: Metrics = field(init=False)
    completions: CompletionService = field(init=False)
    chat_tasks: ChatTasks = field(init=False)
    platform: Platform = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = Metrics(self.models)
        self.completions = CompletionService(
            self.models,
            metrics=self.metrics,
            prompt_log=self.settings.prompt_log,
            media=self.settings.media,
        )
        self.chat_tasks = ChatTasks(self.completions)
        self.platform = Platform.open(self.settings.platform, self.repository, self.chat_tasks)

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
            return cls(settings, models, repository)
        except BaseException:
            models.close()
            repository.close()
            raise

    async def start(self) -> None:
        await self.platform.start()

    async def stop(self) -> None:
        await self.platform.stop()

    def close(self) -> None:
        self.models.close()
        self.platform.close()
