"""A request's generation values resolved against the model's catalog entry: sampling,
max_tokens, and whether the model thinks (Z.AI's defaults: docs/api.md)."""

from __future__ import annotations

from glmserve.catalog import ModelSpec
from glmserve.engine.types import SamplingParams
from glmserve.errors import InvalidField
from glmserve.protocol.chat import ChatCompletionRequest
from glmserve.serving.models.registry import ServedModel

__all__ = ["max_tokens", "sampling", "thinking_budget", "thinking_enabled"]


def thinking_enabled(spec: ModelSpec, request: ChatCompletionRequest) -> bool:
    if request.thinking is not None:
        return request.thinking.type == "enabled"
    if request.enable_thinking is not None:
        return request.enable_thinking
    if request.reasoning_effort is not None:  # OpenAI: "none"/"minimal" mean no reasoning
        return request.reasoning_effort not in ("none", "minimal")
    return spec.capabilities.thinking_default


def thinking_budget(spec: ModelSpec, request: ChatCompletionRequest) -> int | None:
    """Reasoning tokens before the thinking block is closed, None for no limit: the
    request's ``thinking.budget_tokens``, else its ``reasoning_effort``'s budget, else
    the model's default (docs/api.md, "Thinking budgets")."""
    if not spec.capabilities.thinking or not thinking_enabled(spec, request):
        return None
    if request.thinking is not None and request.thinking.budget_tokens is not None:
        return request.thinking.budget_tokens
    if request.reasoning_effort is not None:
        return spec.thinking_budgets.for_effort(request.reasoning_effort)
    return spec.thinking_budgets.default


def max_tokens(model: ServedModel, request: ChatCompletionRequest) -> int:
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


def sampling(spec: ModelSpec, request: ChatCompletionRequest) -> SamplingParams:
    temperature = spec.temperature if request.temperature is None else request.temperature
    greedy = request.do_sample is False or temperature == 0.0
    if greedy:
        # The most likely token survives any truncation: top_p, top_k and min_p cannot
        # change a greedy answer, and a worker that applied them would sort the whole
        # vocabulary for nothing (docs/benchmarks.md, "Gateway overhead").
        return SamplingParams(
            temperature=0.0,
            repetition_penalty=request.repetition_penalty or 1.0,
            frequency_penalty=request.frequency_penalty or 0.0,
            presence_penalty=request.presence_penalty or 0.0,
            seed=request.seed,
        )
    return SamplingParams(
        temperature=temperature,
        top_p=spec.top_p if request.top_p is None else request.top_p,
        top_k=spec.top_k if request.top_k is None else request.top_k,
        min_p=request.min_p or 0.0,
        repetition_penalty=request.repetition_penalty or 1.0,
        frequency_penalty=request.frequency_penalty or 0.0,
        presence_penalty=request.presence_penalty or 0.0,
        seed=request.seed,
    )
