"""Typing tool-call argument values from the tool's JSON schema.

GLM writes every argument value as bare text (``<arg_value>42</arg_value>``); only the
tool's JSON schema says whether that is the number 42 or the string "42". This module
resolves a property's schema (type arrays, ``anyOf``/``oneOf``/``allOf``, ``nullable``,
``$ref``, ``enum``/``const``) to the set of JSON types it allows, and turns a value's
text into the JSON value it stands for.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["ValueKind", "ArgSpec", "ToolSpecs", "tool_specs", "convert_value", "json_type"]

ValueKind = Literal["string", "nullable_string", "json", "mixed"]
"""How a value is read: ``string`` streams raw text as a JSON string; ``nullable_string``
too, except that the exact text ``null`` is null; ``json`` is parsed as JSON once
complete; ``mixed`` (string or something else) is parsed as JSON when the result has an
allowed non-string type and kept as raw text otherwise."""

_ALL_TYPES = frozenset({"string", "number", "integer", "boolean", "null", "object", "array"})
_MAX_DEPTH = 32  # $ref chains and nesting beyond this are treated as "any type"
_MAX_VISITS = 10_000  # schema nodes resolved per tool; beyond this, "any type"


@dataclass(frozen=True)
class ArgSpec:
    kind: ValueKind
    types: frozenset[str]
    """JSON types the schema allows (all of them when it does not say)."""


# An argument the schema does not describe is typed like vLLM and SGLang do: JSON if it
# parses, raw text otherwise.
ANY = ArgSpec("json", _ALL_TYPES)


@dataclass(frozen=True)
class ToolSpecs:
    """The declared function tools: name -> argument name -> how its value is read."""

    tools: Mapping[str, Mapping[str, ArgSpec]]
    parameters: Mapping[str, Mapping[str, Any]]
    """name -> the tool's parameters schema as declared (for grammars)."""

    def declared(self, name: str) -> bool:
        return name in self.tools

    def arg(self, tool: str, key: str) -> ArgSpec:
        return self.tools.get(tool, {}).get(key, ANY)


def tool_specs(tools: Sequence[Mapping[str, Any]] | ToolSpecs | None) -> ToolSpecs:
    """Specs of the function tools in an OpenAI/Z.AI ``tools`` list (specs already
    built, off the event loop, are returned as they are).

    Accepts ``{"type": "function", "function": {...}}`` and the Responses-API shape
    ``{"type": "function", "name": ..., "parameters": ...}``; other tool types
    (web_search, retrieval, mcp) are not model-called functions and are skipped.
    """
    if isinstance(tools, ToolSpecs):
        return tools
    specs: dict[str, dict[str, ArgSpec]] = {}
    params: dict[str, Mapping[str, Any]] = {}
    for tool in tools or ():
        if tool.get("type", "function") != "function":
            continue
        fn = tool.get("function", tool)
        name = fn.get("name") if isinstance(fn, Mapping) else None
        if not isinstance(name, str):
            continue
        schema = fn.get("parameters")
        schema = schema if isinstance(schema, Mapping) else {}
        params[name] = schema
        props = schema.get("properties")
        walk = _TypeWalk(schema)
        specs[name] = {
            key: arg_spec(sub, schema, walk)
            for key, sub in (props.items() if isinstance(props, Mapping) else ())
        }
    return ToolSpecs(specs, params)


def arg_spec(schema: Any, root: Mapping[str, Any], walk: _TypeWalk | None = None) -> ArgSpec:
    types = (walk or _TypeWalk(root)).types(schema, 0)
    allowed = _ALL_TYPES if types is None else frozenset(types)
    if not allowed:
        allowed = _ALL_TYPES
    if allowed == {"string"}:
        return ArgSpec("string", allowed)
    if allowed == {"string", "null"}:
        return ArgSpec("nullable_string", allowed)
    if "string" in allowed and allowed != _ALL_TYPES:
        return ArgSpec("mixed", allowed)
    return ArgSpec("json", allowed)


class _TypeWalk:
    """The JSON types of the schemas of one tool, each schema node resolved once
    (a node reached again by another ``$ref`` or branch answers from the memo, a
    node reached again while it is being resolved, a ``$ref`` cycle, allows any type)
    and at most ``_MAX_VISITS`` nodes resolved in all, beyond which any type is
    allowed: a self-referencing ``allOf`` costs its size, not its size to the power
    of its depth."""

    def __init__(self, root: Mapping[str, Any]) -> None:
        self._root = root
        self._memo: dict[int, frozenset[str] | None] = {}
        self._active: set[int] = set()
        self._visits = 0

    def types(self, schema: Any, depth: int) -> set[str] | None:
        """JSON types a schema allows; None when it allows any."""
        if not isinstance(schema, Mapping) or depth > _MAX_DEPTH:
            return None
        key = id(schema)
        if key in self._memo:
            known = self._memo[key]
            return None if known is None else set(known)
        self._visits += 1
        if key in self._active or self._visits > _MAX_VISITS:
            return None
        self._active.add(key)
        try:
            found = self._resolve(schema, depth)
        finally:
            self._active.discard(key)
        self._memo[key] = None if found is None else frozenset(found)
        return found

    def _resolve(self, schema: Mapping[str, Any], depth: int) -> set[str] | None:
        if "$ref" in schema:
            return self.types(_resolve(schema["$ref"], self._root), depth + 1)
        found: set[str] | None = None
        if "const" in schema:
            found = {json_type(schema["const"])}
        elif isinstance(schema.get("enum"), list):
            found = {json_type(v) for v in schema["enum"]}
        elif isinstance(schema.get("type"), str):
            found = {schema["type"]}
        elif isinstance(schema.get("type"), list):
            found = {t for t in schema["type"] if isinstance(t, str)}
        else:
            for union in ("anyOf", "oneOf"):
                branches = schema.get(union)
                if isinstance(branches, list) and branches:
                    found = set()
                    for branch in branches:
                        sub = self.types(branch, depth + 1)
                        if sub is None:
                            return None
                        found |= sub
                    break
            else:
                found = self._all_of(schema.get("allOf"), depth)
        if found is not None and schema.get("nullable") is True:
            found.add("null")
        return found

    def _all_of(self, branches: Any, depth: int) -> set[str] | None:
        if not isinstance(branches, list):
            return None
        found: set[str] | None = None
        for branch in branches:
            sub = self.types(branch, depth + 1)
            if sub is not None:
                found = sub if found is None else found & sub
        return found


def _resolve(ref: Any, root: Mapping[str, Any]) -> Any:
    """A local JSON pointer (``#/$defs/X``); anything else resolves to nothing."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return None
    node: Any = root
    for part in ref[1:].split("/"):
        if not part:
            continue
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _allows(types: frozenset[str], value: Any) -> bool:
    kind = json_type(value)
    if kind == "integer" and "number" in types:
        return True
    if kind == "number" and "integer" in types and float(value).is_integer():
        return True
    return kind in types


_PYTHON_LITERALS = {"True": True, "False": False, "None": None}


def _loads(text: str, spec: ArgSpec) -> tuple[bool, Any]:
    """(True, value) if the text is JSON; for a schema allowing arrays or objects, JSON
    escaped once as if inside a string (``[{\\"id\\": 1}]``) that gives one; a Python
    literal the model wrote by habit (True/False/None); (False, None) otherwise."""
    try:
        return True, json.loads(text)
    except ValueError:
        pass
    unescaped = _unescaped(text, spec)
    if unescaped is not None:
        return True, unescaped
    if text in _PYTHON_LITERALS:
        return True, _PYTHON_LITERALS[text]
    return False, None


def _unescaped(text: str, spec: ArgSpec) -> Any:
    """The array or object an escaped value stands for (docs/glm-format.md, "Escaped
    values"), or None. Only for schemas that allow one, and only when the raw text is
    not JSON itself, so a string with backslashes (a path, a regex) is never touched."""
    if "\\" not in text or not spec.types & {"array", "object"}:
        return None
    try:
        value = json.loads(json.loads(f'"{text}"', strict=False))
    except ValueError:
        return None
    return value if json_type(value) in spec.types & {"array", "object"} else None


def convert_value(text: str, spec: ArgSpec) -> Any:
    """The JSON value a complete ``json``/``mixed``/``nullable_string`` value text means."""
    if spec.kind == "string":
        return text
    if spec.kind == "nullable_string":
        return None if text == "null" else text
    ok, value = _loads(text.strip(), spec)
    if spec.kind == "mixed":
        if ok and not isinstance(value, str) and _allows(spec.types, value):
            return value
        return text
    if not ok:
        return text.strip()
    if isinstance(value, float) and value.is_integer() and "number" not in spec.types:
        return int(value) if "integer" in spec.types else value
    return value
