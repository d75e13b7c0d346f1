"""Bounds on client schemas and their grammars (chat/schema_bounds.py), and the schema
walk that types argument values (chat/schema.py) on hostile schemas."""

from __future__ import annotations

from typing import Any

import pytest

from glmserve.chat import grammar
from glmserve.chat.schema import tool_specs
from glmserve.chat.schema_bounds import (
    MAX_GRAMMAR_NESTING,
    MAX_REPEAT,
    MAX_SCHEMA_DEPTH,
    MAX_SCHEMA_NODES,
    SchemaBudget,
    SchemaTooLarge,
    bounded_copy,
    check_grammar,
    check_schema,
)


def _tools(parameters: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": "f", "parameters": parameters}}]


def test_a_self_referencing_all_of_is_typed_in_one_pass() -> None:
    # 8 branches, each the definition itself: without the memo, 8 ** depth visits
    schema = {
        "type": "object",
        "$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"} for _ in range(8)]}},
        "properties": {"x": {"$ref": "#/$defs/a"}, "n": {"type": "integer"}},
    }
    specs = tool_specs(_tools(schema))
    assert specs.arg("f", "n").types == {"integer"}
    assert specs.arg("f", "x").kind == "json"  # a cycle allows anything


def test_shared_definitions_keep_their_types() -> None:
    schema = {
        "$defs": {"id": {"anyOf": [{"type": "integer"}, {"$ref": "#/$defs/name"}]},
                  "name": {"type": "string"}},
        "properties": {"a": {"$ref": "#/$defs/id"}, "b": {"$ref": "#/$defs/id"}},
    }  # fmt: skip
    specs = tool_specs(_tools(schema))
    assert specs.arg("f", "a").types == specs.arg("f", "b").types == {"integer", "string"}
    assert specs.arg("f", "a").kind == "mixed"


@pytest.mark.parametrize("key", ["minLength", "minItems"])
def test_lower_counts_beyond_the_bound_are_refused_with_their_path(key: str) -> None:
    schema = {"properties": {"x": {"type": "array", "items": {key: MAX_REPEAT + 1}}}}
    with pytest.raises(SchemaTooLarge) as refused:
        check_schema(schema, "tools[0].function.parameters")
    assert refused.value.path == f"tools[0].function.parameters.properties.x.items.{key}"
    check_schema({key: MAX_REPEAT}, "ok")


def test_a_pattern_lower_count_beyond_the_bound_is_refused() -> None:
    with pytest.raises(SchemaTooLarge):
        check_schema({"type": "string", "pattern": "^a{2000}$"}, "p")
    with pytest.raises(SchemaTooLarge):
        check_schema({"type": "string", "pattern": "^(ab){600,}$"}, "p")
    check_schema({"type": "string", "pattern": r"^\{2000\}a{0,9999}$"}, "p")  # escaped, upper


def test_upper_counts_are_lowered_in_the_copy_only_where_they_are_keywords() -> None:
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "string", "maxLength": 10**6},
            "a": {"type": "array", "maxItems": 10**6, "items": {"pattern": "^a{0,5000}b{3}$"}},
            "maxLength": {"type": "integer"},  # a property named like a keyword
        },
        "const": {"maxLength": 10**6},  # data, not a schema
    }
    copy = bounded_copy(schema)
    assert copy["properties"]["s"]["maxLength"] == MAX_REPEAT
    assert copy["properties"]["a"]["maxItems"] == MAX_REPEAT
    assert copy["properties"]["a"]["items"]["pattern"] == f"^a{{0,{MAX_REPEAT}}}b{{3}}$"
    assert copy["properties"]["maxLength"] == {"type": "integer"}
    assert copy["const"] == {"maxLength": 10**6}
    assert schema["properties"]["s"]["maxLength"] == 10**6  # the original is untouched


def test_depth_and_node_budget() -> None:
    deep: dict[str, Any] = {}
    for _ in range(MAX_SCHEMA_DEPTH + 1):
        deep = {"items": deep}
    with pytest.raises(SchemaTooLarge, match="nests more than"):
        check_schema(deep, "s")
    wide = {"enum": list(range(MAX_SCHEMA_NODES))}
    with pytest.raises(SchemaTooLarge, match="values in all"):
        check_schema(wide, "s")
    # the budget is the request's: two schemas share it
    budget = SchemaBudget()
    half = {"enum": list(range(MAX_SCHEMA_NODES // 2))}
    check_schema(half, "a", budget)
    with pytest.raises(SchemaTooLarge):
        check_schema(half, "b", budget)


def test_grammars_stay_within_size_and_nesting() -> None:
    answer = grammar.json_answer({"type": "string", "maxLength": 10**6}, thinking="none")
    assert check_grammar(answer, "r") == answer
    nested = "root ::= " + "(" * (MAX_GRAMMAR_NESTING + 1) + '"a"' + ")" * (MAX_GRAMMAR_NESTING + 1)
    with pytest.raises(SchemaTooLarge, match="nest"):
        check_grammar(nested, "r")
    quoted = 'root ::= "' + "(" * (MAX_GRAMMAR_NESTING + 1) + '" [()]'
    assert check_grammar(quoted, "r") == quoted  # literals and classes are not groups
