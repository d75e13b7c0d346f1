"""A completion, prepared (what the engine will be asked) and running on its engine:
message deltas out of the model family's parser, then the finish reason and usage; run
to the end for a non-stream body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from glmserve.chat.output import Delta, OutputParser, SteerableParser
from glmserve.chat.schema import ToolSpecs
from glmserve.engine.types import ContextExceeded, EngineBusy, GenerationRequest
from glmserve.errors import EngineFailure, HighTraffic, PromptTooLong, SensitiveContent
from glmserve.platform.admission import Admitted
from glmserve.protocol.responses import ChatUsage
from glmserve.safety import SAFE, Verdict
from glmserve.serving.metrics import Metrics
from glmserve.serving.models.registry import ServedModel
from glmserve.serving.run.content_filter import ContentFilter, content_filter_body
from glmserve.serving.run.legs import Legs
from glmserve.serving.run.steering import Steerer, Steering

__all__ = [
    "Completion",
    "CompletionResult",
    "PreparedCompletion",
    "collect_result",
    "finished_deltas",
]


@dataclass(frozen=True)
class PreparedCompletion:
    id: str
    request_id: str
    created: int
    model: ServedModel
    prompt: str
    generation: GenerationRequest
    stream: bool
    tools: list[dict[str, Any]]
    """The function tools the model may call (none with tool_choice "none")."""
    specs: ToolSpecs | None = None
    """``tools``' argument specs (chat/schema.py), built in ``prepare`` off the event
    loop; None: built when the completion starts."""
    json_call: bool = False
    """A grammar forces a JSON tool call (models without a native tool format)."""
    tool_stream: bool = False
    """Stream tool-call arguments as they are generated (Z.AI ``tool_stream``)."""
    include_usage: bool = False
    """``stream_options.include_usage``: usage in a last chunk with empty ``choices``
    (the OpenAI and DashScope convention) instead of on the finish chunk (Z.AI's)."""
    steering: Steering = field(default_factory=Steering)
    """Thinking budget, strict calls under "auto", one call only (steering.py)."""
    user_id: str | None = None
    conversation: tuple[tuple[str, str], ...] = ()
    """The request's (role, text) turns, as the content filter sees them."""
    new_prompt: bool = True
    """A new user turn, not a tool loop's follow-up (what a Coding Plan counts)."""
    screened: bool = True
    """Content safety applies (False: ``sensitive_word_check`` DISABLE, allowed for
    the caller's key)."""

    @property
    def admitted(self) -> Admitted:
        """What admission and the ledger need to know of it."""
        return Admitted(
            record_id=self.id,
            model=self.model.code,
            request_id=self.request_id,
            client_request_id=self.request_id if self.request_id != self.id else None,
            stream=self.stream,
            price=self.model.spec.price,
            user_id=self.user_id,
            new_prompt=self.new_prompt,
        )


class Completion:
    """A completion running on the engine, in one leg or several (legs.py)."""

    def __init__(
        self,
        prepared: PreparedCompletion,
        legs: Legs,
        parser: OutputParser,
        metrics: Metrics | None = None,
        *,
        content_filter: ContentFilter | None = None,
        input_verdict: Verdict = SAFE,
    ) -> None:
        self.prepared = prepared
        self._legs = legs
        self._parser = parser
        self._metrics = metrics
        steerable = parser if isinstance(parser, SteerableParser) else None
        self._steerer = Steerer(prepared.steering, steerable, legs)
        self._screen = (
            content_filter.output_screen(prepared.conversation)
            if content_filter is not None and prepared.screened
            else None
        )
        self._input_verdict = input_verdict
        self.called_tools = False
        self.blocked = False
        """The content filter stopped the output (finish_reason "sensitive")."""

    async def deltas(self) -> AsyncIterator[Delta]:
        code = self.prepared.model.code
        clock = self._metrics.clock(code) if self._metrics is not None else None
        steerer = self._steerer
        try:
            for delta in await self._checked(steerer.before()):
                yield delta
            try:
                async for token in self._legs.tokens():
                    if clock is not None:
                        clock.tick()
                    out = steerer.feed(token.text, self._parser.feed)
                    out += await steerer.after_token()
                    for delta in await self._checked(out):
                        yield delta
                    if self.blocked:
                        break
            except (ContextExceeded, EngineBusy) as exc:
                self._refused(exc)
            # stopped on purpose (one call only, a filter): its end is a token away, and
            # the finish reason must be final when the last chunk is written
            if self._legs.stopped:
                await self._legs.wait_finished()
            if self._legs.finish_reason != "error" and not self.blocked:
                for delta in await self._checked(self._parser.finish()):
                    yield delta
            screen = self._screen
            if screen is not None and not self.blocked and not self.failed:
                self.blocked = (await screen.finish()).blocked
        finally:
            self._legs.cancel()  # a no-op once finished; stops it if we were cut off
            if self._metrics is not None:
                reason: str = self._legs.finish_reason or "cancelled"
                if self.blocked or self.called_tools:
                    reason = "sensitive" if self.blocked else "tool_calls"
                self._metrics.finished(code, reason)

    async def _checked(self, deltas: list[Delta]) -> list[Delta]:
        """The deltas the content filter lets through (all of them without a filter);
        on a block, none, and the output ends."""
        for delta in deltas:
            self.called_tools |= delta.kind == "tool_call"
        if self._screen is None or self.blocked or not deltas:
            return [] if self.blocked else deltas
        text = "".join(d.text for d in deltas if d.kind != "tool_call")
        if text and (await self._screen.feed(text)).blocked:
            self.blocked = True
            self._legs.stop()
            return []
        return deltas

    @property
    def content_filter(self) -> list[dict[str, object]]:
        """Z.AI's ``content_filter`` for this completion: the sides that were flagged."""
        flags = [("user", self._input_verdict)]
        if self._screen is not None:
            flags.append(("assistant", self._screen.verdict))
        return content_filter_body(flags)

    def _refused(self, exc: ContextExceeded | EngineBusy) -> None:
        """A remote worker refused the request before any token. Without a stream that
        is 1261 or 1312; a stream has begun, so it ends as an engine failure does
        (finish_reason network_error)."""
        if self.prepared.stream:
            return
        model = self.prepared.model
        if isinstance(exc, EngineBusy):
            raise HighTraffic(model.code) from None
        prompt = len(self.prepared.generation.prompt_tokens)
        raise PromptTooLong(prompt, exc.context_size or model.context_size) from None

    def cancel(self) -> None:
        self._legs.cancel()

    async def wait_finished(self) -> None:
        """Until the engine has let go of this generation, so usage is final.

        A generation not yet finished still has its end-of-stream marker queued: reading
        what is left (after ``cancel`` this is at most a token or two) reaches it.
        """
        await self._legs.wait_finished()

    @property
    def finished(self) -> bool:
        return self._legs.finish_reason is not None

    @property
    def cancelled(self) -> bool:
        return self._legs.finish_reason == "cancelled" and not self.blocked

    @property
    def failed(self) -> bool:
        return self._legs.finish_reason == "error"

    @property
    def error(self) -> str | None:
        return self._legs.error

    @property
    def finish_reason(self) -> str:
        """Z.AI's finish reasons (docs/api.md, "Finish reasons")."""
        reason = self._legs.finish_reason
        if self.blocked:
            return "sensitive"
        if reason in ("error", None):
            return "network_error"
        if reason == "length":  # a call cut short is still reported as cut short
            prepared = self.prepared
            used = len(prepared.generation.prompt_tokens) + self._legs.usage.completion_tokens
            if used >= prepared.model.context_size:
                return "model_context_window_exceeded"
            return "length"
        return "tool_calls" if self.called_tools else "stop"

    @property
    def usage(self) -> ChatUsage:
        usage = self._legs.usage
        return ChatUsage(
            prompt_tokens=usage.prompt_tokens,
            cached_tokens=usage.cached_tokens,
            completion_tokens=usage.completion_tokens,
            reasoning_tokens=self._steerer.reasoning_tokens,
        )


async def finished_deltas(completion: Completion, *, refusal: bool = False) -> list[Delta]:
    """Run a completion to its end; every delta of the message, with usage and
    finish_reason final. Raises EngineFailure (1234) if the engine failed, and 1301 if
    the content filter stopped it, unless ``refusal`` (Anthropic's ``refusal``: the
    message so far, with finish_reason "sensitive")."""
    deltas = [delta async for delta in completion.deltas()]
    await completion.wait_finished()
    if completion.failed:
        prepared = completion.prepared
        raise EngineFailure.generation_failed(prepared.id)
    if completion.blocked and not refusal:  # Z.AI: without a stream, it is an error
        raise SensitiveContent()
    return deltas


@dataclass(frozen=True)
class CompletionResult:
    """A completion run to its end, typed: what a non-stream answer holds before the
    edges (api/, the job table) give it a wire shape."""

    id: str
    request_id: str
    created: int
    model: str
    deltas: list[Delta]
    finish_reason: str
    usage: ChatUsage
    content_filter: list[dict[str, object]]
    """Z.AI's ``content_filter``: the sides content safety flagged (empty: none)."""


async def collect_result(completion: Completion) -> CompletionResult:
    """Run a completion to its end; its deltas, finish reason and usage. Raises
    EngineFailure (1234) if the engine failed, SensitiveContent (1301) if blocked."""
    deltas = await finished_deltas(completion)
    prepared = completion.prepared
    return CompletionResult(
        id=prepared.id,
        request_id=prepared.request_id,
        created=prepared.created,
        model=prepared.model.code,
        deltas=deltas,
        finish_reason=completion.finish_reason,
        usage=completion.usage,
        content_filter=completion.content_filter,
    )
