"""``/openapi.json`` describes the API as it is: each operation's request body
is its pydantic model, every answer the route can give is listed with its body, the
credentials are described, and nothing the server never answers (422) is."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from glmserve.api.admin import (
    ApisBody,
    CreateKeyBody,
    PlanBody,
    SafetyBody,
    StatusBody,
    TopUpBody,
)
from glmserve.platform.batch_input import BatchCreateBody
from glmserve.protocol.agents import AgentsBody, AgentsConversationBody, AgentsResultBody
from glmserve.protocol.anthropic import CountTokensRequest, MessagesRequest
from glmserve.protocol.chat import ChatCompletionRequest
from glmserve.protocol.embeddings import EmbeddingsBody, RerankBody
from glmserve.protocol.error_schemas import AnthropicErrorBody, ZaiErrorBody
from glmserve.protocol.moderations import ModerationsBody
from glmserve.protocol.web_search import ReaderBody, WebSearchBody
from tests.conftest import Server

BODIES: dict[tuple[str, str], type[BaseModel]] = {
    ("post", "/api/paas/v4/chat/completions"): ChatCompletionRequest,
    ("post", "/api/coding/paas/v4/chat/completions"): ChatCompletionRequest,
    ("post", "/v1/chat/completions"): ChatCompletionRequest,
    ("post", "/api/paas/v4/async/chat/completions"): ChatCompletionRequest,
    ("post", "/api/paas/v4/tokenizer"): ChatCompletionRequest,
    ("post", "/api/anthropic/v1/messages"): MessagesRequest,
    ("post", "/api/anthropic/v1/messages/count_tokens"): CountTokensRequest,
    ("post", "/api/paas/v4/embeddings"): EmbeddingsBody,
    ("post", "/v1/embeddings"): EmbeddingsBody,
    ("post", "/api/paas/v4/rerank"): RerankBody,
    ("post", "/v1/rerank"): RerankBody,
    ("post", "/api/paas/v4/batches"): BatchCreateBody,
    ("post", "/v1/batches"): BatchCreateBody,
    ("post", "/api/paas/v4/web_search"): WebSearchBody,
    ("post", "/api/coding/paas/v4/web_search"): WebSearchBody,
    ("post", "/api/paas/v4/reader"): ReaderBody,
    ("post", "/api/coding/paas/v4/reader"): ReaderBody,
    ("post", "/admin/keys"): CreateKeyBody,
    ("post", "/admin/keys/{key_id}/top-up"): TopUpBody,
    ("post", "/admin/keys/{key_id}/safety"): SafetyBody,
    ("post", "/admin/keys/{key_id}/status"): StatusBody,
    ("post", "/admin/keys/{key_id}/plan"): PlanBody,
    ("post", "/admin/keys/{key_id}/apis"): ApisBody,
    ("post", "/api/paas/v4/moderations"): ModerationsBody,
}
for _prefix in ("/api", "/api/paas/v4"):
    BODIES[("post", f"{_prefix}/v1/agents")] = AgentsBody
    BODIES[("post", f"{_prefix}/v1/agents/async-result")] = AgentsResultBody
    BODIES[("post", f"{_prefix}/v1/agents/conversation")] = AgentsConversationBody
NO_BODY = {("post", "/admin/keys/{key_id}/revoke")}
NO_BODY |= {("post", f"{p}/batches/{{batch_id}}/cancel") for p in ("/api/paas/v4", "/v1")}
MULTIPART = {("post", "/api/paas/v4/files"), ("post", "/v1/files")}
"""Uploads: ``multipart/form-data`` with ``file`` and ``purpose`` (docs/api.md "Files")."""
STREAMING = (ChatCompletionRequest, MessagesRequest, AgentsBody)
STREAMS = {p for (_, p), model in BODIES.items() if model in STREAMING}
STREAMS -= {"/api/paas/v4/async/chat/completions", "/api/paas/v4/tokenizer"}


@pytest.fixture(scope="module")
def doc(hardened: Server) -> dict[str, Any]:
    response = httpx.get(hardened.base + "/openapi.json", timeout=30)
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]


def _served(schema: Any) -> Any:
    """A JSON schema as the served document carries it: FastAPI's OpenAPI model leaves
    out ``"default": null``, which says nothing (absent and null are the same here)."""
    if isinstance(schema, dict):
        return {k: _served(v) for k, v in schema.items() if not (k == "default" and v is None)}
    if isinstance(schema, list):
        return [_served(v) for v in schema]
    return schema


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    name = schema["$ref"].removeprefix("#/components/schemas/")
    return name, doc["components"]["schemas"][name]


def test_each_request_body_is_its_pydantic_model(doc: dict[str, Any]) -> None:
    for method, path, op in _operations(doc):
        if (method, path) in MULTIPART:
            form = op["requestBody"]["content"]["multipart/form-data"]["schema"]
            assert form["required"] == ["file", "purpose"]
            continue
        if (method, path) not in BODIES:
            assert "requestBody" not in op, (method, path)
            assert method in ("get", "delete") or (method, path) in NO_BODY, f"{method} {path}"
            continue
        model = BODIES[(method, path)]
        content = op["requestBody"]["content"]
        assert list(content) == ["application/json"]
        name, schema = _resolve(doc, content["application/json"]["schema"])
        expected = model.model_json_schema(ref_template="#/components/schemas/{model}")
        defs = expected.pop("$defs", {})
        assert (name, schema) == (model.__name__, _served(expected))
        for def_name, def_schema in defs.items():
            assert doc["components"]["schemas"][def_name] == _served(def_schema)


def test_answers_errors_and_no_422(doc: dict[str, Any]) -> None:
    for method, path, op in _operations(doc):
        responses = op["responses"]
        assert "422" not in responses, (method, path)
        assert "200" in responses
        streams = "text/event-stream" in responses["200"]["content"]
        assert streams == (path in STREAMS), (method, path)
        error_model = AnthropicErrorBody if path.startswith("/api/anthropic") else ZaiErrorBody
        for status, answer in responses.items():
            if status == "200":
                continue
            name, _ = _resolve(doc, answer["content"]["application/json"]["schema"])
            assert name == error_model.__name__, (method, path, status)
        if "requestBody" in op:
            assert {"400", "408", "413"} <= set(responses), (method, path)
        if op["security"] != [{}]:
            assert "401" in responses, (method, path)
    assert "HTTPValidationError" not in doc["components"]["schemas"]


def test_security_schemes(doc: dict[str, Any]) -> None:
    schemes = doc["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "http", "scheme": "bearer"}
    assert schemes["Jwt"]["bearerFormat"] == "JWT"
    assert schemes["XApiKey"] == {**schemes["XApiKey"], "type": "apiKey", "in": "header"}
    assert schemes["XApiKey"]["name"] == "x-api-key"
    for method, path, op in _operations(doc):
        # every route is described (``documented``): one without says nothing of security
        assert "security" in op, f"{method} {path} is not documented (api/openapi.py)"
        if path.startswith("/admin"):
            assert op["security"] == [{"AdminKey": []}]
        elif path.endswith(("/models", "/health")):
            assert op["security"] == [{}]
        else:  # this server is open: no credential is needed, any of the keys is taken
            assert op["security"] == [{"ApiKey": []}, {"Jwt": []}, {"XApiKey": []}, {}]


@pytest.mark.parametrize(
    ("path", "model"),
    [
        ("/api/paas/v4/chat/completions", ZaiErrorBody),
        ("/api/anthropic/v1/messages", AnthropicErrorBody),
        ("/admin/keys", ZaiErrorBody),
    ],
)
def test_error_bodies_are_what_the_document_says(
    hardened: Server, path: str, model: type[BaseModel]
) -> None:
    for body in (b"{", b"[" * 100 + b"]" * 100, b'{"model": 1}'):
        response = httpx.post(hardened.base + path, content=body, timeout=30)
        assert response.status_code in (400, 401)
        model.model_validate(response.json())
