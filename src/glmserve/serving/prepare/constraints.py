"""What a request forces the model to write, as a llama.cpp grammar.

``tool_choice`` ``required`` or a named function forces one tool call whose arguments
fit the tool's schema: in GLM's own XML-ish call format for GLM families, and as a JSON
call object for models without a native tool format. ``response_format`` ``json_object``
or ``json_schema`` forces a JSON answer, after the thinking block for thinking models.
A constraint the model's backend cannot enforce is refused (1214), never ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from glmserve.chat import grammar
from glmserve.chat.schema_bounds import SchemaBudget, SchemaTooLarge, check_schema
from glmserve.errors import InvalidField
from glmserve.protocol.chat import ChatCompletionRequest, FunctionTool, NamedToolChoice
from glmserve.serving.models.registry import ServedModel

__all__ = ["Constraint", "check_schemas", "constraint_for"]


@dataclass(frozen=True)
class Constraint:
    grammar: str | None = None
    json_call: bool = False
    """The grammar forces a JSON tool call (models without a native tool format)."""
    after_thinking: str | None = None
    """The same constraint once the thinking block is closed (by a thinking budget):
    the grammar of what follows ``</think>``."""


def check_schemas(request: ChatCompletionRequest) -> None:
    """Refuse (1214, naming the field) tool parameters and a ``response_format`` schema
    beyond the bounds of chat/schema_bounds.py, before any other work reads them."""
    budget = SchemaBudget()
    field = "tools"
    try:
        for i, tool in enumerate(request.tools or []):
            if isinstance(tool, FunctionTool) and tool.function.parameters is not None:
                check_schema(tool.function.parameters, f"tools[{i}].function.parameters", budget)
        fmt = request.response_format
        if fmt is not None and fmt.json_schema is not None and fmt.json_schema.schema_:
            field = "response_format"
            check_schema(fmt.json_schema.schema_, "response_format.json_schema.schema", budget)
    except SchemaTooLarge as exc:
        raise InvalidField(field, str(exc)) from None


def constraint_for(
    model: ServedModel,
    request: ChatCompletionRequest,
    tools: list[dict[str, Any]],
    prompt: str,
) -> Constraint:
    field, constraint = _wanted(model, request, tools, prompt)
    if constraint.grammar is not None and not model.engine.supports_grammar:
        raise InvalidField(field, f"model {model.code}'s backend cannot enforce it.")
    for text in (constraint.grammar, constraint.after_thinking):
        # parsed here, in the HTTP process: never a grammar the engine would refuse
        if text is not None and not model.engine.grammar_parses(text):
            raise InvalidField(
                field,
                "its grammar has more rules or repetitions than the engine's grammar "
                "parser takes; lower the schema's bounds.",
            )
    return constraint


def _wanted(
    model: ServedModel, request: ChatCompletionRequest, tools: list[dict[str, Any]], prompt: str
) -> tuple[str, Constraint]:
    choice = request.tool_choice
    family = model.family
    if tools and (choice == "required" or isinstance(choice, NamedToolChoice)):
        name = choice.function.name if isinstance(choice, NamedToolChoice) else None
        try:
            call = family.call_grammar(tools, name=name, prompt=prompt)
            after = family.call_grammar(tools, name=name, prompt=prompt, thinking="none")
        except grammar.GrammarError as exc:
            raise InvalidField("tools", str(exc)) from None
        return "tool_choice", Constraint(call, not family.native_tools, after)
    fmt = request.response_format
    if fmt is None or fmt.type == "text":
        return "response_format", Constraint()
    schema = None
    if fmt.type == "json_schema":
        if fmt.json_schema is None or fmt.json_schema.schema_ is None:
            raise InvalidField("response_format", "json_schema needs json_schema.schema.")
        schema = fmt.json_schema.schema_
    try:
        answer = family.answer_grammar(schema, prompt=prompt)
        after = family.answer_grammar(schema, prompt=prompt, thinking="none")
        return "response_format", Constraint(answer, after_thinking=after)
    except grammar.GrammarError as exc:
        raise InvalidField("response_format", str(exc)) from None
