"""llama.cpp grammars (GBNF) that force a tool call or a JSON answer.

JSON values are described by llama-cpp-python's own JSON-schema converter (a port of
llama.cpp's json-schema-to-grammar); this module adds the layout around them: GLM's
XML-ish call (``<tool_call>NAME<arg_key>K</arg_key><arg_value>V</arg_value>...``), the
JSON call object used for models without a native tool format, and the thinking block
that may precede either.

GLM string values are bare text ended by ``</arg_value>``; GBNF has no negative
lookahead, so a string value here is text in which ``<`` is never followed by ``/``
(a closing tag). That is the one restriction the grammar puts on string values.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from glmserve.chat.schema import ToolSpecs
from glmserve.chat.schema_bounds import SchemaTooLarge, bounded_copy, check_grammar

__all__ = [
    "GrammarError",
    "XmlLayout",
    "Thinking",
    "xml_call",
    "xml_call_rest",
    "json_call",
    "json_answer",
]

Thinking = Literal["none", "open", "optional"]
"""What precedes the constrained part: nothing; the rest of an open ``<think>`` block
(the prompt ended inside it); or an optional ``<think>...</think>`` block."""

# Whitespace between parts is bounded: an unbounded run would let a weak model emit
# newlines until max_tokens instead of ending.
_TEXT_RULES = """
xml-text ::= ([^<] | "<" [^/])*
think-text ::= ([^<] | "<" [^/])*
ws ::= [ \\n]? [ \\n]?
"""


class GrammarError(ValueError):
    """A schema the grammar converter cannot express."""


@dataclass(frozen=True)
class XmlLayout:
    after_name: str
    """Text between the tool name and the first argument (GLM-4.5: a newline)."""
    between: str
    """Text after each ``</arg_key>`` and ``</arg_value>`` (GLM-4.5: a newline)."""


def _literal(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _converter() -> Any:
    from llama_cpp.llama_grammar import SchemaConverter

    return SchemaConverter(prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False)


def _visit(
    conv: Any, schema: Mapping[str, Any], root: Mapping[str, Any], url: str, name: str
) -> str:
    """The rule name of a JSON value matching ``schema`` (``$ref``s resolved in ``root``)."""
    try:
        conv.resolve_refs(root, url)
        return str(conv.visit(schema, name))
    except RecursionError:
        raise GrammarError("the JSON schema nests too deep to be enforced.") from None
    except (AssertionError, ValueError, KeyError, TypeError, NotImplementedError) as exc:
        raise GrammarError(f"the JSON schema cannot be enforced: {exc}") from None


def _checked(grammar: str, what: str) -> str:
    """The grammar, if within the bounds the engine can parse (chat/schema_bounds.py)."""
    try:
        return check_grammar(grammar, what)
    except SchemaTooLarge as exc:
        raise GrammarError(str(exc)) from None


def _think(thinking: Thinking) -> str:
    if thinking == "open":
        return 'think-text "</think>" ws '
    if thinking == "optional":
        return 'ws ("<think>" think-text "</think>")? ws '
    return ""


def _tools(specs: ToolSpecs, name: str | None) -> list[str]:
    names = list(specs.parameters) if name is None else [name]
    if not names:
        raise GrammarError("no function tool to call")
    return names


def xml_call(specs: ToolSpecs, *, name: str | None, layout: XmlLayout, thinking: Thinking) -> str:
    """One GLM tool call to ``name`` (or any declared tool) whose arguments fit its schema."""
    conv = _converter()
    rules: list[str] = []
    alternatives = [
        _call_rule(conv, specs, tool, i, layout, rules)
        for i, tool in enumerate(_tools(specs, name))
    ]
    root = f'root ::= {_think(thinking)}"<tool_call>" ({" | ".join(alternatives)}) "</tool_call>"'
    return _checked("\n".join([root, *rules, conv.format_grammar(), _TEXT_RULES]), "tools")


def xml_call_rest(
    specs: ToolSpecs,
    *,
    strict: Collection[str],
    layout: XmlLayout,
    parallel: bool,
    consumed: str = "",
) -> str | None:
    """The rest of a GLM call the model has opened (``<tool_call>`` and ``consumed``, the
    start of the name, are written): the arguments of a tool in ``strict`` fit its
    schema; another declared tool's arguments are free text in the call layout. With
    ``parallel`` more calls may follow under the same rules. None when no declared
    tool's name starts with ``consumed``."""
    conv = _converter()
    rules: list[str] = []
    first: list[str] = []
    every: list[str] = []
    for i, tool in enumerate(_tools(specs, None)):
        if tool in strict:
            rule = _call_rule(conv, specs, tool, i, layout, rules)
        else:
            rule = f"t{i}-call"
            rules.append(f"{rule} ::= {_literal(tool + layout.after_name)} free-args")
        every.append(rule)
        head = tool + layout.after_name
        if head.startswith(consumed):
            # the same call without the part of its name already written
            rules.append(f"t{i}-rest ::= {_literal(head[len(consumed) :])} t{i}-body")
            rules.append(f"t{i}-body ::= {_call_body(rules, rule)}")
            first.append(f"t{i}-rest")
    if not first:
        return None
    root = f'root ::= ({" | ".join(first)}) "</tool_call>"'
    if parallel:
        root += f' (ws "<tool_call>" ({" | ".join(every)}) "</tool_call>")* ws'
    free = (
        'free-args ::= ("<arg_key>" [^<]* "</arg_key>" ws "<arg_value>" xml-text '
        '"</arg_value>" ws)*'
    )
    return _checked("\n".join([root, *rules, free, conv.format_grammar(), _TEXT_RULES]), "tools")


def _call_body(rules: list[str], call_rule: str) -> str:
    """What follows the name in ``call_rule`` (its rule text after the name literal)."""
    prefix = f"{call_rule} ::= "
    text = next(r for r in rules if r.startswith(prefix))[len(prefix) :]
    # the rule starts with the name literal (a JSON string), then the arguments
    literal_end = json.JSONDecoder().raw_decode(text)[1]
    return text[literal_end:].strip() or '""'


def _call_rule(
    conv: Any, specs: ToolSpecs, tool: str, i: int, layout: XmlLayout, rules: list[str]
) -> str:
    """Add the rules of a call to ``tool`` with schema-valid arguments; its rule name."""
    params = bounded_copy(dict(specs.parameters[tool]))
    props = params.get("properties") or {}
    required = [k for k in params.get("required") or [] if k in props]
    order = required + [k for k in props if k not in required]
    parts = [_literal(tool + layout.after_name)]
    for j, key in enumerate(order):
        value = _xml_value(conv, props[key], params, f"tool{i}", f"t{i}-a{j}", specs, tool, key)
        arg = f"t{i}-arg{j}"
        rules.append(
            f"{arg} ::= {_literal('<arg_key>' + key + '</arg_key>' + layout.between)} "
            f'"<arg_value>" {value} {_literal("</arg_value>" + layout.between)}'
        )
        parts.append(arg if key in required else f"{arg}?")
    rules.append(f"t{i}-call ::= {' '.join(parts)}")
    return f"t{i}-call"


def _xml_value(
    conv: Any,
    schema: Any,
    root: Mapping[str, Any],
    url: str,
    rule: str,
    specs: ToolSpecs,
    tool: str,
    key: str,
) -> str:
    """String-typed values are bare text (an enum of strings: one of its literals); any
    other value is JSON text matching the property's schema."""
    if isinstance(schema, Mapping):
        choices = schema.get("enum")
        if "const" in schema:
            choices = [schema["const"]]
        if isinstance(choices, list) and choices and all(isinstance(c, str) for c in choices):
            return "(" + " | ".join(_literal(c) for c in choices) + ")"
    if "string" in specs.arg(tool, key).types:
        return "xml-text"
    return _visit(conv, schema if isinstance(schema, Mapping) else {}, root, url, rule)


def json_call(specs: ToolSpecs, *, name: str | None) -> str:
    """A JSON object ``{"name": ..., "arguments": {...}}`` calling ``name`` (or any
    declared tool), for models without a native tool-call format."""
    conv = _converter()
    alternatives = []
    for i, tool in enumerate(_tools(specs, name)):
        params = bounded_copy(dict(specs.parameters[tool])) or {"type": "object"}
        args = _visit(conv, params, params, f"tool{i}", f"t{i}-arguments")
        head = _literal('{"name": ' + _literal(tool) + ', "arguments": ')
        alternatives.append(f'{head} {args} "}}"')
    text = "\n".join([f"root ::= {' | '.join(alternatives)}", conv.format_grammar(), _TEXT_RULES])
    return _checked(text, "tools")


def json_answer(schema: Mapping[str, Any] | None, *, thinking: Thinking) -> str:
    """A JSON answer (an object if no schema is given), after the thinking block."""
    conv = _converter()
    body = bounded_copy(dict(schema)) if schema else {"type": "object"}
    answer = _visit(conv, body, body, "answer", "answer")
    text = "\n".join([f"root ::= {_think(thinking)}{answer}", conv.format_grammar(), _TEXT_RULES])
    return _checked(text, "response_format.json_schema.schema")
