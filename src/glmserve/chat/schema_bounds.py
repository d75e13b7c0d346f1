"""Bounds on the JSON schemas a client sends (tool parameters, ``response_format``)
before they become work: a schema walk, a grammar and a grammar parse in the engine all
grow with them. See docs/limits.md, "Schemas and grammars".

- ``check_schema``: a schema of at most ``MAX_SCHEMA_NODES`` JSON values (objects,
  arrays and scalars, all of a request's schemas together) nested at most
  ``MAX_SCHEMA_DEPTH`` deep; ``minLength``, ``minItems`` and a pattern's lower
  repetition counts at most ``MAX_REPEAT``. Walked without recursion.
- ``bounded_copy``: the copy of a schema a grammar is built from, where a ``maxLength``,
  ``maxItems`` or a pattern's upper repetition count above ``MAX_REPEAT`` is lowered to
  it (every value the grammar then allows still fits the schema).
- ``check_grammar``: the emitted GBNF is at most ``MAX_GRAMMAR_BYTES`` long and its
  groups nest at most ``MAX_GRAMMAR_NESTING`` deep (llama.cpp parses grammars
  recursively: a deeper one overflows the engine's stack).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

__all__ = [
    "MAX_GRAMMAR_BYTES",
    "MAX_GRAMMAR_NESTING",
    "MAX_REPEAT",
    "MAX_SCHEMA_DEPTH",
    "MAX_SCHEMA_NODES",
    "SchemaBudget",
    "SchemaTooLarge",
    "bounded_copy",
    "check_grammar",
    "check_schema",
]

MAX_SCHEMA_NODES = 20_000
MAX_SCHEMA_DEPTH = 64
MAX_REPEAT = 512
MAX_GRAMMAR_BYTES = 2 * 1024 * 1024
MAX_GRAMMAR_NESTING = 2 * MAX_REPEAT + 64

_LOWER = ("minLength", "minItems")
_UPPER = ("maxLength", "maxItems")
# keywords whose value is a JSON value, not a schema: never clamped
_DATA = ("const", "enum", "default", "examples", "example")
# ``{n}``, ``{n,}``, ``{n,m}`` not preceded by a backslash
_QUANTIFIER = re.compile(r"(?<!\\)\{\s*(\d*)\s*(?:(,)\s*(\d*)\s*)?\}")


class SchemaTooLarge(ValueError):
    """A schema or its grammar beyond the bounds; ``path`` names where (dotted)."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path


class SchemaBudget:
    """The nodes left to all of one request's schemas together."""

    def __init__(self, nodes: int = MAX_SCHEMA_NODES) -> None:
        self.left = nodes

    def take(self, path: str) -> None:
        self.left -= 1
        if self.left < 0:
            raise SchemaTooLarge(
                path, f"the request's schemas hold more than {MAX_SCHEMA_NODES} values in all."
            )


def check_schema(schema: Any, path: str, budget: SchemaBudget | None = None) -> None:
    """Refuse (``SchemaTooLarge``) a schema beyond the bounds of this module."""
    budget = budget or SchemaBudget()
    stack: list[tuple[Any, str, int]] = [(schema, path, 0)]
    while stack:
        node, where, depth = stack.pop()
        budget.take(where)
        if depth > MAX_SCHEMA_DEPTH:
            raise SchemaTooLarge(where, f"the schema nests more than {MAX_SCHEMA_DEPTH} deep.")
        if isinstance(node, Mapping):
            _check_counts(node, where)
            stack.extend((v, f"{where}.{k}", depth + 1) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(node))


def _check_counts(node: Mapping[str, Any], where: str) -> None:
    for key in _LOWER:
        value = node.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_REPEAT:
            raise SchemaTooLarge(f"{where}.{key}", f"at most {MAX_REPEAT} can be enforced.")
    pattern = node.get("pattern")
    if isinstance(pattern, str):
        for low, _, _ in _quantifiers(pattern):
            if low > MAX_REPEAT:
                raise SchemaTooLarge(
                    f"{where}.pattern", f"a repetition count above {MAX_REPEAT} cannot be enforced."
                )


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _quantifiers(pattern: str) -> Iterator[tuple[int, int | None, re.Match[str]]]:
    """(lower, upper or None, match) of each counted repetition in a pattern."""
    for match in _QUANTIFIER.finditer(pattern):
        low_text, comma, high_text = match.groups()
        if not low_text and not comma:
            continue
        low = int(low_text) if low_text else 0
        high: int | None = low
        if comma:
            high = int(high_text) if high_text else None
        yield low, high, match


def bounded_copy(schema: Any) -> Any:
    """A copy of a (checked) schema with its upper counts lowered to ``MAX_REPEAT``."""
    if isinstance(schema, list):
        return [bounded_copy(item) for item in schema]
    if not isinstance(schema, Mapping):
        return schema
    copy: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _DATA:
            copy[key] = _plain_copy(value)
        elif key in _UPPER and _is_count(value) and value > MAX_REPEAT:
            copy[key] = MAX_REPEAT
        elif key == "pattern" and isinstance(value, str):
            copy[key] = _bounded_pattern(value)
        else:
            copy[key] = bounded_copy(value)
    return copy


def _plain_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _plain_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_copy(v) for v in value]
    return value


def _bounded_pattern(pattern: str) -> str:
    out: list[str] = []
    end = 0
    for low, high, match in _quantifiers(pattern):
        if high is not None and high > MAX_REPEAT:
            out.append(pattern[end : match.start()])
            out.append(f"{{{low},{MAX_REPEAT}}}")
            end = match.end()
    out.append(pattern[end:])
    return "".join(out)


def check_grammar(grammar: str, path: str) -> str:
    """``grammar`` itself, if within the size and nesting bounds."""
    if len(grammar) > MAX_GRAMMAR_BYTES:
        raise SchemaTooLarge(
            path, f"its grammar would be {len(grammar)} bytes, more than {MAX_GRAMMAR_BYTES}."
        )
    depth = _nesting(grammar)
    if depth > MAX_GRAMMAR_NESTING:
        raise SchemaTooLarge(
            path, f"its grammar would nest {depth} deep, more than {MAX_GRAMMAR_NESTING}."
        )
    return grammar


def _nesting(grammar: str) -> int:
    """The deepest nesting of ``( ... )`` groups outside literals and classes."""
    deepest = depth = 0
    i, n = 0, len(grammar)
    while i < n:
        c = grammar[i]
        if c in '"[':
            close = '"' if c == '"' else "]"
            i += 1
            while i < n and grammar[i] != close:
                i += 2 if grammar[i] == "\\" else 1
        elif c == "#":
            while i < n and grammar[i] != "\n":
                i += 1
        elif c == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif c == ")":
            depth -= 1
        i += 1
    return deepest
