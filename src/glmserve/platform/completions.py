"""One chat completion from request to result, independent of HTTP.

``CompletionService.prepare`` checks the request against the model (its catalog limits
and context window), renders the prompt with the model's chat template and resolves
sampling; ``Completion.deltas`` runs it on the engine and yields message deltas; after
that ``finish_reason`` and ``usage`` are final.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from glmserve.chat.output import Delta, OutputParser, parser_for
from glmserve.chat.template import TemplateError
from glmserve.engine.types import Generation, GenerationRequest, SamplingParams, Usage
from glmserve.errors import InvalidField, ModelNotFound, PromptTooLong
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.platform.models import ModelRegistry, ServedModel
from glmserve.protocol.chat import ChatCompletionRequest, has_media, template_messages

__all__ = ["CompletionService", "Completion", "PreparedCompletion"]


@dataclass(frozen=True)
class PreparedCompletion:
    id: str
    request_id: str
    created: int
    model: ServedModel
    prompt: str
    generation: GenerationRequest
    stream: bool


class Completion:
    """A completion running on the engine."""

    def __init__(self, prepared: PreparedCompletion, generation: Generation, parser: OutputParser):
        self.prepared = prepared
        self._generation = generation
        self._parser = parser

    async def deltas(self) -> AsyncIterator[Delta]:
        try:
            async for token in self._generation:
                for delta in self._parser.feed(token.text):
                    yield delta
            if self._generation.finish_reason != "error":
                for delta in self._parser.finish():
                    yield delta
        finally:
            self._generation.cancel()  # a no-op once finished; stops it if we were cut off

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
        return "stop" if reason == "cancelled" else reason

    @property
    def usage(self) -> Usage:
        return self._generation.usage


class CompletionService:
    def __init__(self, models: ModelRegistry) -> None:
        self._models = models

    def prepare(self, request: ChatCompletionRequest) -> PreparedCompletion:
        model = self._models.get(request.model)
        if model is None:
            raise ModelNotFound(request.model)
        if has_media(request.messages) and not model.spec.capabilities.vision:
            raise InvalidField(
                "messages",
                f"model {model.code} accepts text only, not images, video, audio or files.",
            )
        prompt = self._render(model, request)
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
                sampling=_sampling(model, request),
                stop=request.stop_list + model.stop,
            ),
            stream=bool(request.stream),
        )

    def count_prompt_tokens(self, request: ChatCompletionRequest) -> int:
        """Tokens of the prompt this request renders to: what ``prepare`` would send to the
        engine, so the tokenizer API agrees with the chat response's prompt_tokens."""
        model = self._models.get(request.model)
        if model is None:
            raise ModelNotFound(request.model)
        return len(model.engine.tokenize(self._render(model, request)))

    def start(self, prepared: PreparedCompletion) -> Completion:
        generation = prepared.model.engine.start(prepared.generation)
        model = prepared.model
        return Completion(prepared, generation, parser_for(model.spec.family, trim=model.trim))

    @staticmethod
    def _render(model: ServedModel, request: ChatCompletionRequest) -> str:
        flags: dict[str, Any] = {}
        if model.spec.capabilities.thinking:
            flags["enable_thinking"] = _thinking_enabled(model, request)
        try:
            return model.template.render(template_messages(request.messages), **flags)
        except TemplateError as exc:
            raise InvalidField(
                "messages", f"the model's chat template rejected them: {exc}"
            ) from None


def _thinking_enabled(model: ServedModel, request: ChatCompletionRequest) -> bool:
    if request.thinking is not None:
        return request.thinking.type == "enabled"
    if request.enable_thinking is not None:
        return request.enable_thinking
    return model.spec.capabilities.thinking_default


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
        top_k=request.top_k or 0,
        min_p=request.min_p or 0.0,
        repetition_penalty=request.repetition_penalty or 1.0,
        frequency_penalty=request.frequency_penalty or 0.0,
        presence_penalty=request.presence_penalty or 0.0,
        seed=request.seed,
    )
