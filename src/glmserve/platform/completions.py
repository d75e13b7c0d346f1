"""One chat completion from request to result, independent of HTTP.

``CompletionService.prepare`` checks the request against the model (its catalog limits
and context window), renders the prompt with the model's chat template and resolves
sampling; ``Completion.deltas`` runs it on the engine and yields message deltas; after
that ``finish_reason`` and ``usage`` are final.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any

from glmserve.catalog import ModelSpec
from glmserve.chat.families import glm_family, parser_for
from glmserve.chat.output import Delta, OutputParser
from glmserve.chat.template import ChatTemplate, TemplateError
from glmserve.engine.types import EngineBusy, Generation, GenerationRequest, SamplingParams, Usage
from glmserve.errors import EngineFailure, HighTraffic, InvalidField, ModelNotFound, PromptTooLong
from glmserve.platform.constraints import constraint_for
from glmserve.platform.ids import completion_id, now_seconds, tool_call_id
from glmserve.platform.metrics import Metrics
from glmserve.platform.models import ModelRegistry, ServedModel
from glmserve.platform.testhooks import TestHooks
from glmserve.protocol.chat import (
    ChatCompletionRequest,
    function_tools,
    has_media,
    template_messages,
)
from glmserve.protocol.deltas import message_body
from glmserve.protocol.responses import completion_body

__all__ = [
    "CompletionService",
    "Completion",
    "PreparedCompletion",
    "completion_result",
    "finished_deltas",
    "render_prompt",
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
    json_call: bool = False
    """A grammar forces a JSON tool call (models without a native tool format)."""
    tool_stream: bool = False
    """Stream tool-call arguments as they are generated (Z.AI ``tool_stream``)."""
    include_usage: bool = False
    """``stream_options.include_usage``: usage in a last chunk with empty ``choices``
    (the OpenAI and DashScope convention) instead of on the finish chunk (Z.AI's)."""


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


class CompletionService:
    def __init__(
        self,
        models: ModelRegistry,
        *,
        hooks: TestHooks | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._models = models
        self._hooks = hooks  # TEST ONLY (platform/testhooks.py); None when serving
        self._metrics = metrics

    def prepare(
        self, request: ChatCompletionRequest, *, coding: bool = False
    ) -> PreparedCompletion:
        """``coding``: the request came to the Coding endpoint, where preserved thinking
        (``clear_thinking: false``) is the default."""
        model = self._models.get(request.model)
        if model is None:
            raise ModelNotFound(request.model)
        if has_media(request.messages) and not model.spec.capabilities.vision:
            raise InvalidField(
                "messages",
                f"model {model.code} accepts text only, not images, video, audio or files.",
            )
        tools = function_tools(request) if request.tool_choice != "none" else []
        prompt = self._render(model, request, tools, coding)
        constraint = constraint_for(model, request, tools, prompt)
        sampling = replace(_sampling(model, request), grammar=constraint.grammar)
        if self._hooks is not None:
            sampling = self._apply_hooks(model, prompt, sampling)
        tokens = model.engine.tokenize(prompt)
        context = model.context_size
        if len(tokens) >= context:
            raise PromptTooLong(len(tokens), context)
        created = now_seconds()
        task_id = completion_id()
        return PreparedCompletion(
            id=task_id,
            request_id=request.request_id or task_id,
            created=created,
            model=model,
            prompt=prompt,
            generation=GenerationRequest(
                prompt_tokens=tokens,
                max_tokens=min(_max_tokens(model, request), context - len(tokens)),
                sampling=sampling,
                stop=request.stop_list + model.stop + _family_stop(model),
            ),
            stream=bool(request.stream),
            tools=tools,
            json_call=constraint.json_call,
            tool_stream=bool(request.tool_stream) and model.spec.capabilities.tool_stream,
            include_usage=bool(request.stream_options and request.stream_options.include_usage),
        )

    def _apply_hooks(
        self, model: ServedModel, prompt: str, sampling: SamplingParams
    ) -> SamplingParams:
        assert self._hooks is not None
        self._hooks.record(prompt)
        forced = self._hooks.next_output()
        if forced is None:
            return sampling
        return replace(sampling, forced_tokens=tuple(model.engine.tokenize(forced)))

    def count_prompt_tokens(self, request: ChatCompletionRequest, *, coding: bool = False) -> int:
        """Tokens of the prompt this request renders to: what ``prepare`` would send to the
        engine, so the tokenizer API agrees with the chat response's prompt_tokens."""
        model = self._models.get(request.model)
        if model is None:
            raise ModelNotFound(request.model)
        tools = function_tools(request) if request.tool_choice != "none" else []
        return len(model.engine.tokenize(self._render(model, request, tools, coding)))

    def start(self, prepared: PreparedCompletion) -> Completion:
        try:
            generation = prepared.model.engine.start(prepared.generation)
        except EngineBusy:
            raise HighTraffic(prepared.model.code) from None
        model = prepared.model
        parser = parser_for(
            model.spec.family,
            trim=model.trim,
            tools=prepared.tools,
            prompt=prepared.prompt,
            json_call=prepared.json_call,
        )
        return Completion(prepared, generation, parser, self._metrics)

    @staticmethod
    def _render(
        model: ServedModel,
        request: ChatCompletionRequest,
        tools: list[dict[str, Any]],
        coding: bool,
    ) -> str:
        return render_prompt(model.template, model.spec, request, tools, coding=coding)


def render_prompt(
    template: ChatTemplate,
    spec: ModelSpec,
    request: ChatCompletionRequest,
    tools: list[dict[str, Any]],
    *,
    coding: bool = False,
) -> str:
    """The prompt: the request's messages through the model's template, with the Z.AI
    thinking flags as the template variables GLM templates read."""
    flags: dict[str, Any] = {}
    if spec.capabilities.thinking:
        flags["enable_thinking"] = _thinking_enabled(spec, request)
        flags["clear_thinking"] = _clear_thinking(request, coding)
    try:
        return template.render(template_messages(request.messages), tools=tools or None, **flags)
    except TemplateError as exc:
        raise InvalidField("messages", f"the model's chat template rejected them: {exc}") from None


def _thinking_enabled(spec: ModelSpec, request: ChatCompletionRequest) -> bool:
    if request.thinking is not None:
        return request.thinking.type == "enabled"
    if request.enable_thinking is not None:
        return request.enable_thinking
    if request.reasoning_effort is not None:  # OpenAI: "none"/"minimal" mean no reasoning
        return request.reasoning_effort not in ("none", "minimal")
    return spec.capabilities.thinking_default


def _clear_thinking(request: ChatCompletionRequest, coding: bool) -> bool:
    """Z.AI drops past turns' reasoning unless told not to; the Coding endpoint keeps it."""
    if request.thinking is not None and request.thinking.clear_thinking is not None:
        return request.thinking.clear_thinking
    return not coding


def _family_stop(model: ServedModel) -> tuple[str, ...]:
    family = glm_family(model.spec.family)
    return tuple(family.STOP) if family is not None else ()


def _max_tokens(model: ServedModel, request: ChatCompletionRequest) -> int:
    """The request's max_tokens (or the model's default), within the model's maximum.

    A value that fits the model's maximum but not what is left of the context window
    is cut to fit, and the completion ends with finish_reason "length" there.
    """
    spec = model.spec
    asked = request.requested_max_tokens
    if asked is None:
        return spec.default_max_tokens
    if asked > spec.max_max_tokens:
        field = "max_tokens" if request.max_tokens is not None else "max_completion_tokens"
        raise InvalidField(
            field, f"model {model.code} allows at most {spec.max_max_tokens}, got {asked}."
        )
    return asked


def _sampling(model: ServedModel, request: ChatCompletionRequest) -> SamplingParams:
    spec = model.spec
    temperature = spec.temperature if request.temperature is None else request.temperature
    greedy = request.do_sample is False or temperature == 0.0
    return SamplingParams(
        temperature=0.0 if greedy else temperature,
        top_p=spec.top_p if request.top_p is None else request.top_p,
        top_k=spec.top_k if request.top_k is None else request.top_k,
        min_p=request.min_p or 0.0,
        repetition_penalty=request.repetition_penalty or 1.0,
        frequency_penalty=request.frequency_penalty or 0.0,
        presence_penalty=request.presence_penalty or 0.0,
        seed=request.seed,
    )


async def finished_deltas(completion: Completion) -> list[Delta]:
    """Run a completion to its end; every delta of the message, with usage and
    finish_reason final. Raises EngineFailure (1234) if the engine failed."""
    deltas = [delta async for delta in completion.deltas()]
    await completion.wait_finished()
    if completion.failed:
        prepared = completion.prepared
        raise EngineFailure(f"Network error, error id: {prepared.id}, generation failed.")
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
