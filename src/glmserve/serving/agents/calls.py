"""The model calls of one agent run, through the chat pipeline the chat routes use
(``CompletionService``: the same rendering, engines, priority and metrics), and their
usage summed for the run's one ledger record.

The run is admitted once (the request's ``Attempt``); each call then starts on the
engine without admission of its own. ``AgentRun`` is what the ledger follows
(``Metered``): finished when the agent has ended, usage the sum of every call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from glmserve.errors import ClientGone, EngineFailure, SensitiveContent
from glmserve.platform.admission import Attempt
from glmserve.platform.auth import Principal
from glmserve.protocol.chat import parse_chat_request
from glmserve.protocol.responses import ChatUsage
from glmserve.serving.models.registry import ServedModel
from glmserve.serving.run.completion import Completion
from glmserve.serving.service import CompletionService

__all__ = ["AgentRun", "Messages"]

Messages = list[dict[str, Any]]


class AgentRun:
    """The calls one agent request makes, in order, on one served model."""

    def __init__(
        self,
        completions: CompletionService,
        model: ServedModel,
        caller: Principal,
        *,
        check: dict[str, Any] | None = None,
        attempt: Attempt | None = None,
    ) -> None:
        self._completions = completions
        self.attempt = attempt
        """The request's attempt: work on the side (a web search) gets a sibling record."""
        self.model = model
        self._caller = caller
        self._check = check
        """``sensitive_word_check``, sent with every call (docs/safety.md)."""
        self.calls: list[Completion] = []
        self._ended = False
        self._failed = False
        self._cancelled = False
        self._finish_reason = "stop"

    async def text(self, messages: Messages, *, max_tokens: int | None = None) -> str:
        """One call run to its end: the message's content."""
        return "".join([piece async for piece in self.stream(messages, max_tokens=max_tokens)])

    async def stream(
        self, messages: Messages, *, max_tokens: int | None = None
    ) -> AsyncIterator[str]:
        """One call: its content as the model writes it. Raises EngineFailure (1234) if
        the engine failed, SensitiveContent if the content filter stopped it."""
        completion = await self._start(messages, max_tokens)
        async for delta in completion.deltas():
            if delta.kind == "content":
                yield delta.text
        await completion.wait_finished()
        if self._cancelled:
            raise ClientGone()
        if completion.failed:
            self._failed = True
            raise EngineFailure.generation_failed(completion.prepared.id)
        if completion.blocked:
            raise SensitiveContent()
        self._finish_reason = completion.finish_reason

    async def _start(self, messages: Messages, max_tokens: int | None) -> Completion:
        if self._cancelled:
            raise ClientGone()
        body: dict[str, Any] = {"model": self.model.code, "messages": messages}
        if max_tokens is not None:
            body["max_tokens"] = max_tokens
        if self.model.spec.capabilities.thinking:
            # Each step asks for its text only; a step that reasons asks for it in words.
            body["thinking"] = {"type": "disabled"}
        if self._check is not None:
            body["sensitive_word_check"] = self._check
        chat = parse_chat_request(body, max_depth=self._completions.limits.max_json_depth)
        prepared = await self._completions.prepare_off_loop(chat)
        # Content safety screens every call's input: the user's text, and what earlier
        # steps wrote (1301 when blocked).
        verdict = await self._completions.screen(prepared, self._caller)
        if self._cancelled:
            raise ClientGone()
        completion = self._completions.run(prepared, input_verdict=verdict)
        self.calls.append(completion)
        return completion

    def end(self, *, failed: bool = False) -> None:
        """The agent is done (answered, or failed with an error the response carries)."""
        self._ended = True
        self._failed = self._failed or failed

    # -- Metered --

    @property
    def finished(self) -> bool:
        return self._ended or (self._cancelled and all(c.finished for c in self.calls))

    @property
    def failed(self) -> bool:
        return self._failed

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    @property
    def finish_reason(self) -> str:
        return "network_error" if self._failed else self._finish_reason

    @property
    def usage(self) -> ChatUsage:
        usages = [c.usage for c in self.calls]
        return ChatUsage(
            prompt_tokens=sum(u.prompt_tokens for u in usages),
            cached_tokens=sum(u.cached_tokens for u in usages),
            completion_tokens=sum(u.completion_tokens for u in usages),
            reasoning_tokens=sum(u.reasoning_tokens for u in usages),
        )

    def cancel(self) -> None:
        if not self._ended:
            self._cancelled = True
        for call in self.calls:
            call.cancel()

    async def wait_finished(self) -> None:
        for call in list(self.calls):
            await call.wait_finished()
