"""Issue 18: schemathesis against ``/openapi.json`` on a real server. Every operation,
``GLMSERVE_FUZZ_EXAMPLES`` examples each (200 in ``make test``; ``make fuzz`` runs more),
answers of at most 4 tokens (the ``hardened`` server's model config): no 5xx, and every
answer's status and body are the ones the document gives."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import Server
from tests.e2e.conftest import ADMIN_KEY

EXAMPLES = int(os.environ.get("GLMSERVE_FUZZ_EXAMPLES", "200"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def api_schema(hardened: Server) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(hardened.base + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_error_and_answers_as_documented(case: schemathesis.Case) -> None:
    # The admin key is the bearer credential on every route: /admin needs it, and this
    # open server takes any caller elsewhere.
    case.call_and_validate(
        headers={"authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS, timeout=120
    )
