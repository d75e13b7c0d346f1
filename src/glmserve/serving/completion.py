"""A completion, prepared (what the engine will be asked) and running on its engine:
message deltas out of the model family's parser, then the finish reason and usage; run
to the end for a non-stream body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from glmserve.chat.output import Delta, OutputParser
from glmserve.engine.types import Generation, GenerationRequest, Usage
from glmserve.errors import EngineFailure
from glmserve.platform.admission import Admitted
from glmserve.platform.ids import tool_call_id
from glmserve.protocol.deltas import message_body
from glmserve.protocol.responses import completion_body
from glmserve.serving.metrics import Metrics
from glmserve.serving.models import ServedModel

__all__ = ["Completion", "PreparedCompletion", "completion_result", "finished_deltas"]


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
    json_call: bool = False
    """A grammar forces a JSON tool call (models without a native tool format)."""
    tool_stream: bool = False
    """Stream tool-call arguments as they are generated (Z.AI ``tool_stream``)."""
    include_usage: bool = False
    """``stream_options.include_usage``: usage in a last chunk with empty ``choices``
    (the OpenAI and DashScope convention) instead of on the finish chunk (Z.AI's)."""

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
        )


class Completion:
    """A completion running on the engine."""

    def __init__(
        self,
        prepared: PreparedCompletion,
        generation: Generation,
        parser: OutputParser,
        metrics: Metrics | None = None,
    ) -> None:
        self.prepared = prepared
        self._generation = generation
        self._parser = parser
        self._metrics = metrics
        self.called_tools = False

    async def deltas(self) -> AsyncIterator[Delta]:
        code = self.prepared.model.code
        clock = self._metrics.clock(code) if self._metrics is not None else None
        try:
            async for token in self._generation:
                if clock is not None:
                    clock.tick()
                for delta in self._parser.feed(token.text):
                    self.called_tools |= delta.kind == "tool_call"
                    yield delta
            if self._generation.finish_reason != "error":
                for delta in self._parser.finish():
                    self.called_tools |= delta.kind == "tool_call"
                    yield delta
        finally:
            self._generation.cancel()  # a no-op once finished; stops it if we were cut off
            if self._metrics is not None:
                reason = self._generation.finish_reason or "cancelled"
                self._metrics.finished(code, "tool_calls" if self.called_tools else reason)

    def cancel(self) -> None:
        self._generation.cancel()

    async def wait_finished(self) -> None:
        """Until the engine has let go of this generation, so usage is final.

        A generation not yet finished still has its end-of-stream marker queued: reading
        what is left (after ``cancel`` this is at most a token or two) reaches it.
        """
        if self._generation.finish_reason is None:
            async for _ in self._generation:
                pass

    @property
    def finished(self) -> bool:
        return self._generation.finish_reason is not None

    @property
    def cancelled(self) -> bool:
        return self._generation.finish_reason == "cancelled"

    @property
    def failed(self) -> bool:
        return self._generation.finish_reason == "error"

    @property
    def error(self) -> str | None:
        return self._generation.error

    @property
    def finish_reason(self) -> str:
        reason = self._generation.finish_reason
        if reason in ("error", None):
            return "network_error"
        if reason == "length":  # a call cut short is still reported as cut short
            return "length"
        return "tool_calls" if self.called_tools else "stop"

    @property
    def usage(self) -> Usage:
        return self._generation.usage


async def finished_deltas(completion: Completion) -> list[Delta]:
    """Run a completion to its end; every delta of the message, with usage and
    finish_reason final. Raises EngineFailure (1234) if the engine failed."""
    deltas = [delta async for delta in completion.deltas()]
    await completion.wait_finished()
    if completion.failed:
        prepared = completion.prepared
        raise EngineFailure.generation_failed(prepared.id)
    return deltas


async def completion_result(completion: Completion) -> dict[str, Any]:
    """Run a completion to its end; the non-stream response body (content, reasoning and
    tool calls). Raises EngineFailure (1234) if the engine failed."""
    deltas = await finished_deltas(completion)
    prepared = completion.prepared
    return completion_body(
        id=prepared.id,
        request_id=prepared.request_id,
        created=prepared.created,
        model=prepared.model.code,
        message=message_body(deltas, tool_call_id),
        finish_reason=completion.finish_reason,
        usage=completion.usage,
    )
