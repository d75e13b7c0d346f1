"""Deciding, once per request, how its generation is steered (steering.py): the
thinking budget's cut, strict tool calls under ``tool_choice: "auto"``, one call only.
See docs/glm-format.md, "Steering a generation"."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glmserve.chat import grammar
from glmserve.errors import InvalidField
from glmserve.protocol.chat import ChatCompletionRequest
from glmserve.serving.models.registry import ServedModel
from glmserve.serving.prepare.constraints import Constraint
from glmserve.serving.prepare.sampling import thinking_budget
from glmserve.serving.run.steering import Steering, ThinkingCut

__all__ = ["steering_for", "strict_tools"]


def steering_for(
    model: ServedModel,
    request: ChatCompletionRequest,
    tools: list[dict[str, Any]],
    constraint: Constraint,
    max_tokens: int,
) -> Steering:
    """``max_tokens``: what the generation may write in all (the request's, within
    the context window)."""
    return Steering(
        cut=_cut(model, request, constraint, max_tokens),
        call_rest=_call_rest(model, request, tools, constraint),
        single_call=bool(tools) and request.parallel_tool_calls is False,
    )


def _cut(
    model: ServedModel, request: ChatCompletionRequest, constraint: Constraint, max_tokens: int
) -> ThinkingCut | None:
    budget = thinking_budget(model.spec, request)
    end = model.family.end_thinking
    if budget is None or end is None:
        return None
    budgets = model.spec.thinking_budgets
    closing = _tokens(model, budgets.closing) if budgets.closing else ()
    end_tokens = _tokens(model, end)
    room = max_tokens - len(closing) - len(end_tokens)
    if room <= 0:
        return None  # not even the closing fits: the output is cut by max_tokens anyway
    # max_tokens bounds the whole output: the budget shrinks so the answer keeps its
    # minimum, which is at most half of max_tokens (a small max_tokens still thinks)
    answer = min(budgets.answer_min_tokens, max_tokens // 2)
    at = max(0, min(budget, room - answer))
    return ThinkingCut(
        at=at,
        closing=closing,
        end=end_tokens,
        text=budgets.closing + end,
        grammar=constraint.after_thinking,
    )


def _tokens(model: ServedModel, text: str) -> tuple[int, ...]:
    """``text``'s tokens as they follow other text (without the BOS a prompt gets)."""
    tokens = model.engine.tokenize(text)
    bos = model.engine.tokenize("")
    if bos and tokens[: len(bos)] == bos:
        tokens = tokens[len(bos) :]
    return tuple(tokens)


def strict_tools(tools: list[dict[str, Any]]) -> set[str]:
    """Names of the function tools declared with ``strict: true``."""
    names = set()
    for tool in tools:
        function = tool.get("function")
        if isinstance(function, dict) and function.get("strict") is True:
            names.add(str(function.get("name")))
    return names


def _call_rest(
    model: ServedModel,
    request: ChatCompletionRequest,
    tools: list[dict[str, Any]],
    constraint: Constraint,
) -> Callable[[str], str | None] | None:
    """The grammar of a call the model opens under "auto", when a tool is strict."""
    strict = strict_tools(tools)
    family = model.family
    auto = request.tool_choice in (None, "auto")
    if not strict or not auto or constraint.grammar is not None or not family.native_tools:
        return None  # nothing strict, or a grammar governs the whole output already
    if not model.engine.supports_grammar:
        raise InvalidField("tools", f"model {model.code}'s backend cannot enforce strict tools.")
    parallel = request.parallel_tool_calls is not False
    try:  # refuse a schema the grammar cannot express now (1214), not mid-stream
        whole = family.call_rest_grammar(tools, strict=strict, parallel=parallel)
    except grammar.GrammarError as exc:
        raise InvalidField("tools", str(exc)) from None
    if whole is not None and not model.engine.grammar_parses(whole):
        raise InvalidField(
            "tools", "a strict tool's grammar has more rules or repetitions than the engine takes."
        )

    def call_rest(consumed: str) -> str | None:
        return family.call_rest_grammar(tools, strict=strict, parallel=parallel, consumed=consumed)

    return call_rest
