"""Schemathesis against ``/openapi.json`` on a real server. Every operation,
``GLMSERVE_FUZZ_EXAMPLES`` examples each (100 in ``make test``; ``make fuzz`` runs more),
answers of at most 4 tokens (the ``hardened`` server's model config): no 5xx, and every
answer's status and body are the ones the document gives."""

from __future__ import annotations

import os
import time

import schemathesis
from hypothesis import HealthCheck, given, settings
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
