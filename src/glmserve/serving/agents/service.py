"""The agent room: ``AgentService`` routes an agents API request to its agent, admits
it once through the request's ``Attempt`` and runs it on the agents' model, answering
with a whole body, a stream, or (for long runs) an ``async_id`` whose result the async
task workers store (docs/agents.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from glmserve.config.agents import AgentSettings
from glmserve.errors import (
    GlmServeError,
    InvalidField,
    ModelNotFound,
    SensitiveContent,
    TaskNotFound,
)
from glmserve.platform.admission import Admitted, Attempt
from glmserve.platform.auth import Principal
from glmserve.platform.files import Files
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.platform.tasks import AsyncTasks
from glmserve.protocol.agents import AgentChunks, AgentRequest, agent_body
from glmserve.protocol.responses import DONE_EVENT
from glmserve.serving.agents.agent import Agent, Content
from glmserve.serving.agents.calls import AgentRun
from glmserve.serving.agents.conversations import Conversations
from glmserve.serving.agents.slides import SlidesAgent
from glmserve.serving.agents.slides_export import Exporter, find_chromium
from glmserve.serving.agents.sources import SourceSearch
from glmserve.serving.agents.translation import GeneralTranslation
from glmserve.serving.agents.video import VIDEO_AGENTS, video_unavailable
from glmserve.serving.models.registry import ModelRegistry, ServedModel
from glmserve.serving.service import CompletionService
from glmserve.serving.web_search.service import WebSearchService
from glmserve.store import TaskRow

__all__ = ["AgentService", "AsyncRunNotFound", "Started", "agents_model", "ASYNC_PREFIX"]

ASYNC_PREFIX = "agent-"
"""Async agent runs share the async task table with async chat (stored with the endpoint
kind "agents", which the job table routes by); the prefix keeps chat's result route and
the agents' apart."""


class AsyncRunNotFound(GlmServeError):
    """404: no async agent run with this id for this key."""

    status = 404
    code = "1214"

    def __init__(self, async_id: str) -> None:
        super().__init__(f"Invalid async_id parameter: run {async_id!r} does not exist.")


@dataclass
class Started:
    """An admitted agent run, about to write its answer."""

    id: str
    request: AgentRequest
    agent: Agent
    job: Any
    run: AgentRun
    conversation_id: str | None = None
    async_id: str | None = None


class AgentService:
    def __init__(
        self,
        completions: CompletionService,
        models: ModelRegistry,
        files: Files,
        settings: AgentSettings | None = None,
        web_search: WebSearchService | None = None,
    ) -> None:
        settings = settings or AgentSettings()
        self._completions = completions
        self._models = models
        self._model_code = settings.model
        self.files = files
        self.conversations = Conversations(files.store)
        exporter = Exporter(find_chromium(settings.chromium))
        agents: list[Agent] = [
            GeneralTranslation(files),
            SlidesAgent(files, self.conversations, exporter, SourceSearch(web_search)),
        ]
        self._agents = {agent.agent_id: agent for agent in agents}

    def agent(self, agent_id: str) -> Agent:
        agent = self._agents.get(agent_id)
        if agent is not None:
            return agent
        if agent_id in VIDEO_AGENTS:
            raise video_unavailable(agent_id)
        raise InvalidField(
            "agent_id", f"unknown agent {agent_id!r}; agents here: {', '.join(self._agents)}."
        )

    def model(self) -> ServedModel:
        served = list(self._models)
        code = self._model_code or agents_model(served)
        model = self._models.get(code)
        if model is None:
            raise ModelNotFound(code)
        return model

    def runs_async(self, request: AgentRequest) -> bool:
        """A non-stream request for a long-running agent answers with an ``async_id``."""
        return not request.stream and self.agent(request.agent_id).runs_async

    # --- running now ----------------------------------------------------------------

    async def start(
        self,
        request: AgentRequest,
        caller: Principal,
        attempt: Attempt,
        *,
        async_id: str | None = None,
    ) -> Started:
        """Check the request, then admit it (balance, limits, request_id): the attempt
        follows every model call of the run to its one ledger record."""
        agent = self.agent(request.agent_id)
        job = await agent.prepare(request, caller)
        model = self.model()
        run = AgentRun(
            self._completions, model, caller, check=request.sensitive_word_check, attempt=attempt
        )
        run_id = async_id or completion_id()
        request_id = request.request_id or run_id
        attempt.describe(model.code, request_id)
        await attempt.admit(
            Admitted(
                record_id=run_id,
                model=model.code,
                request_id=request_id,
                client_request_id=request.request_id,
                stream=request.stream,
                price=model.spec.price,
                user_id=request.user_id,
            )
        )
        attempt.track(run)
        conversation = agent.conversation_id(job)
        return Started(run_id, request, agent, job, run, conversation, async_id)

    async def answer(self, started: Started) -> dict[str, Any]:
        """Run to the end: the ``AgentsCompletion`` body."""
        contents: list[Content] = []
        try:
            async for content in started.agent.contents(started.job, started.run):
                _append(contents, content)
        except GlmServeError:
            started.run.end(failed=True)
            raise
        started.run.end()
        return agent_body(
            id=started.id,
            agent_id=started.request.agent_id,
            status="success",
            contents=contents,
            usage=started.run.usage,
            request_id=started.request.request_id,
            conversation_id=started.conversation_id,
            async_id=started.async_id,
            finish_reason=started.run.finish_reason,
        )

    async def events(self, started: Started) -> AsyncIterator[bytes]:
        """The SSE events of a streamed run: one chunk per content piece, the finish
        chunk with the usage of every call, ``[DONE]``. As in chat, a failure after the
        stream has begun is told by the finish reason (network_error, sensitive)."""
        chunks = AgentChunks(
            id=started.id,
            agent_id=started.request.agent_id,
            conversation_id=started.conversation_id,
        )
        run = started.run
        reason = None
        try:
            async for content in started.agent.contents(started.job, run):
                yield chunks.content(content)
        except SensitiveContent:
            reason = "sensitive"
        except GlmServeError:
            run.end(failed=True)
            reason = "network_error"
        run.end()
        yield chunks.finish(reason or run.finish_reason, run.usage)
        yield DONE_EVENT

    # --- async runs -----------------------------------------------------------------

    async def submit(self, request: AgentRequest, caller: Principal) -> TaskRow:
        """Check an async request now (a bad one is a 400 at once) and give the row the
        task workers run (``AgentTasks``); a new conversation is saved at once, so its
        id is in the first answer."""
        agent = self.agent(request.agent_id)
        job = await agent.prepare(request, caller)
        conversation_id = await agent.keep_conversation(job)
        if conversation_id is not None:
            request = replace(request, conversation_id=conversation_id)
        async_id = ASYNC_PREFIX + completion_id()
        return TaskRow(
            id=async_id,
            key_id=caller.key_id,
            model=self.model().code,
            request_id=request.request_id or async_id,
            status="PROCESSING",
            request_json=request.json(),
            result_json=None,
            created_at=now_seconds(),
            endpoint="agents",  # run by the job table's "agents" runner (AgentTasks)
        )

    def accepted(self, row: TaskRow) -> dict[str, Any]:
        """The answer to an async invoke: its ``async_id`` (and conversation)."""
        request = AgentRequest.from_json(row.request_json)
        return agent_body(
            id=row.id,
            agent_id=request.agent_id,
            status="pending",
            contents=[],
            usage=None,
            request_id=row.request_id,
            conversation_id=request.conversation_id,
            async_id=row.id,
        )

    async def result(
        self, tasks: AsyncTasks, caller: Principal, async_id: str, agent_id: str | None
    ) -> dict[str, Any]:
        """What ``/v1/agents/async-result`` answers: the stored body, or while the run is
        queued or running a pending body. Another key's run is reported as missing."""
        if not async_id.startswith(ASYNC_PREFIX):
            raise AsyncRunNotFound(async_id)
        try:
            stored = await tasks.result(caller, async_id)
        except TaskNotFound:
            raise AsyncRunNotFound(async_id) from None
        if "agent_id" not in stored:  # the queue's status body: not run yet, or running
            return agent_body(
                id=async_id,
                agent_id=agent_id or "",
                status="pending",
                contents=[],
                usage=None,
                request_id=stored.get("request_id"),
                async_id=async_id,
            )
        if agent_id is not None and stored["agent_id"] != agent_id:
            raise InvalidField("agent_id", f"async run {async_id!r} is not {agent_id}'s.")
        return stored

    # --- conversations --------------------------------------------------------------

    async def history(
        self, caller: Principal, agent_id: str, conversation_id: str
    ) -> dict[str, Any]:
        """``/v1/agents/conversation``: every turn, user and assistant, in order."""
        agent = self.agent(agent_id)
        if not isinstance(agent, SlidesAgent):
            raise InvalidField("agent_id", "only slides_glm_agent keeps conversations.")
        conversation = await self.conversations.load(caller.key_id, agent_id, conversation_id)
        messages = [
            {"role": turn["role"], "content": content}
            for turn in conversation.turns
            for content in turn["contents"]
        ]
        choice = {"index": 0, "finish_reason": "stop", "messages": messages}
        if messages:
            choice["message"] = messages[-1]
        return {
            "id": conversation.id,
            "agent_id": agent_id,
            "conversation_id": conversation.id,
            "status": "success",
            "choices": [choice],
        }


def _append(contents: list[Content], content: Content) -> None:
    """Text pieces of one kind join into one content; anything else stands alone."""
    last = contents[-1] if contents else None
    joinable = set(content) == {"type", "text"} and content["type"] in ("text", "explanation")
    if (
        joinable
        and last is not None
        and set(last) == {"type", "text"}
        and last["type"] == content["type"]
    ):
        contents[-1] = {**last, "text": last["text"] + content["text"]}
        return
    contents.append(dict(content))


def agents_model(served: list[ServedModel]) -> str:
    """The model agents run on by default: the first GLM chat model served, else the
    first model served."""
    for model in served:
        if model.spec.family.startswith("glm"):
            return model.code
    return served[0].code
