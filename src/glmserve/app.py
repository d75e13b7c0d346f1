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
from glmserve.serving.embeddings.jobs import EmbeddingJobs
from glmserve.serving.embeddings.service import EmbeddingService, load_embeddings
from glmserve.serving.images import (
    IMAGES_KIND,
    ImageService,
    MediaModels,
    MediaResults,
    load_media,
)
from glmserve.serving.images.metrics import ImageCollector
from glmserve.serving.jobs.chat import ChatJobs
from glmserve.serving.jobs.table import JobTable
from glmserve.serving.metrics import Metrics
from glmserve.serving.models.registry import ModelRegistry, load_models
from glmserve.serving.run.priority import Priority
from glmserve.serving.safety import SafetyService
from glmserve.serving.service import CompletionService
from glmserve.serving.web_search import WebSearchService
from glmserve.serving.web_search.mcp_chat import McpChat
from glmserve.serving.web_search.mcp_servers import McpServers
from glmserve.store import Repository

__all__ = ["GlmServe"]


@dataclass
class GlmServe:
    settings: Settings
    models: ModelRegistry
    repository: Repository
    embeddings: EmbeddingService = field(default_factory=lambda: EmbeddingService([]))
    """Embedding models and the rerank endpoint (docs/embeddings.md)."""
    media: MediaModels = field(default_factory=lambda: MediaModels([]))
    """Image and video generation models (docs/images.md)."""
    images: ImageService = field(init=False)
    metrics: Metrics = field(init=False)
    safety: SafetyService = field(init=False)
    """Content safety ([safety]): chat's content filter and ``/moderations``."""
    completions: CompletionService = field(init=False)
    jobs: JobTable = field(init=False)
    platform: Platform = field(init=False)
    web_search: WebSearchService = field(init=False)
    """Web search, the reader and the chat tool's searches (docs/search.md)."""
    mcp: McpServers = field(init=False)
    """The MCP servers coding tools add (docs/search.md, "MCP servers")."""
    mcp_chat: McpChat = field(init=False)
    """Chat requests with mcp tools: glmserve as the MCP client (docs/search.md)."""
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
        assert self.completions.priority is not None
        # Stored work: one table, one handler per endpoint kind (serving/jobs/table.py).
        self.jobs = JobTable(self.completions.priority)
        self.jobs.register("chat", ChatJobs(self.completions, self.models))
        self.jobs.register("embeddings", EmbeddingJobs(self.embeddings))
        self.images = ImageService(
            self.media, self.settings.images, self.settings.media, self.safety.content_filter
        )
        self.metrics.registry.register(ImageCollector(self.media))
        self.jobs.register_runner(IMAGES_KIND, self.images)
        self.platform = Platform.open(
            self.settings.platform, self.repository, self.jobs.tasks, self.jobs.lines
        )
        self.images.bind(
            MediaResults(self.platform.files, self.platform.keys, self.settings.images)
        )
        self.web_search = WebSearchService(self.settings, content_filter=self.safety.content_filter)
        self.mcp = McpServers(
            self.web_search, self.platform.admission, self.completions, self.models
        )
        private = self.settings.reader.allow_private_urls
        self.mcp_chat = McpChat(self.completions, self.mcp.servers, private)
        self.agents = AgentService(
            self.completions,
            self.models,
            self.platform.files,
            self.settings.agents,
            web_search=self.web_search,
        )
        self.jobs.register_runner("agents", AgentTasks(self.agents))

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
            media = load_media(settings.images)
        except BaseException:
            models.close()
            embeddings.close()
            repository.close()
            raise
        try:
            return cls(settings, models, repository, embeddings, media)
        except BaseException:
            models.close()
            embeddings.close()
            media.close()
            repository.close()
            raise

    async def start(self) -> None:
        await self.platform.start()
        await self.images.start()

    async def stop(self) -> None:
        await self.images.stop()
        await self.platform.stop()

    def close(self) -> None:
        self.completions.close()
        self.models.close()
        self.embeddings.close()
        self.images.close()
        self.web_search.close()
        self.platform.close()
