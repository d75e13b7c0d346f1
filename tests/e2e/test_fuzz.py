"""Schemathesis against ``/openapi.json`` on a real server. Every operation,
``GLMSERVE_FUZZ_EXAMPLES`` examples each (100 in ``make test``; ``make fuzz`` runs more),
answers of at most 4 tokens (the ``hardened`` server's model config): no 5xx, and every
answer's status and body are the ones the document gives. Then hostile JSON schemas
(deep, long, recursive: docs/limits.md) as ``response_format`` and as tool parameters
under a forced call, through the same checks, with the engine's pid unchanged."""

from __future__ import annotations

import os
import time
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Server
from tests.e2e.conftest import ADMIN_KEY

EXAMPLES = int(os.environ.get("GLMSERVE_FUZZ_EXAMPLES", "100"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_no_server_error_and_answers_as_documented(hardened: Server) -> None:
    schema = schemathesis.openapi.from_url(hardened.base + "/openapi.json")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            # The admin key is the bearer credential on every route: /admin needs it,
            # and this open server takes any caller elsewhere.
            case.call_and_validate(
                headers={"authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS, timeout=120
            )

        started = time.monotonic()
        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every operation runs; all are listed
            failures.append(f"{operation.label}: {exc}")
        print(f"{operation.label}: {EXAMPLES} examples in {time.monotonic() - started:.1f} s")
    assert not failures, "\n\n".join(failures)


# Counts around and far beyond what a grammar can hold (chat/schema_bounds.py).
_COUNTS = st.sampled_from([0, 1, 511, 512, 513, 1000, 2000, 10**6, 10**12])
_REFS = st.sampled_from(["#/$defs/a", "#/$defs/b", "#", "#/$defs/missing", "#/properties/x"])


def _leaf() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.builds(lambda n: {"type": "string", "maxLength": n}, _COUNTS),
        st.builds(lambda n: {"type": "string", "minLength": n}, _COUNTS),
        st.builds(
            lambda n, m: {"type": "string", "pattern": f"^(ab){{{n},{m}}}$"}, _COUNTS, _COUNTS
        ),
        st.builds(lambda r: {"$ref": r}, _REFS),
        st.sampled_from([{"type": "integer"}, {"type": "boolean"}, {}, {"enum": ["a", 1, None]}]),
    )


def _node(children: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    many = st.lists(children, min_size=1, max_size=8)
    return st.one_of(
        st.builds(lambda c, n: {"type": "array", "items": c, "minItems": n}, children, _COUNTS),
        st.builds(lambda c, n: {"type": "array", "items": c, "maxItems": n}, children, _COUNTS),
        st.builds(
            lambda cs: {"type": "object", "properties": {f"p{i}": c for i, c in enumerate(cs)}},
            many,
        ),
        st.builds(lambda cs: {"allOf": cs}, many),
        st.builds(lambda cs: {"anyOf": cs}, many),
        st.builds(lambda c: {"allOf": [{"$ref": "#/$defs/a"}] * 8 + [c]}, children),
    )


HOSTILE_SCHEMAS = st.builds(
    lambda body, a, b: {**body, "$defs": {"a": a, "b": b}},
    st.recursive(_leaf(), _node, max_leaves=40),
    st.recursive(_leaf(), _node, max_leaves=10),
    st.recursive(_leaf(), _node, max_leaves=10),
)


def _deep(levels: int) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": 10**6}
    for _ in range(levels):
        schema = {"type": "array", "items": schema}
    return schema


def test_hostile_schemas_in_response_format_and_tools(hardened: Server) -> None:
    schema = schemathesis.openapi.from_url(hardened.base + "/openapi.json")
    operation = schema["/api/paas/v4/chat/completions"]["POST"]
    pid = _engine_pid(hardened)

    @given(
        body=HOSTILE_SCHEMAS | st.integers(0, 80).map(_deep),
        place=st.sampled_from(["response_format", "required", "named", "auto"]),
    )
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def run(body: dict[str, Any], place: str) -> None:
        request: dict[str, Any] = {
            "model": "gemma-3-270m",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 2,
        }
        if place == "response_format":
            request["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": body},
            }
        else:
            tool = {
                "type": "function",
                "function": {"name": "f", "parameters": body, "strict": True},
            }
            choice = {"type": "function", "function": {"name": "f"}} if place == "named" else place
            request.update(tools=[tool], tool_choice=choice)
        case = operation.Case(body=request, media_type="application/json")
        case.call_and_validate(
            headers={"authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS, timeout=120
        )

    run()
    assert _engine_pid(hardened) == pid


def _engine_pid(server: Server) -> int:
    model = next(m for m in server.health()["models"] if m["model"] == "gemma-3-270m")
    pid: int = model["pid"]
    return pid
