"""The OpenAPI document at ``/openapi.json``: each operation's request body (its pydantic
model), its answers (JSON, or an SSE stream), each error status with the surface's error
body, and the credentials it takes.

Routes read their bodies themselves (api/body.py), so FastAPI cannot see the body's
model; a route says what it takes with ``documented``::

    @router.post("/chat/completions", **documented(ChatCompletionRequest, stream=True))
    async def chat_completions(raw: Any = Depends(json_body), ...): ...

``documented`` returns the route's ``responses`` and ``openapi_extra``; ``openapi`` below
puts the models' JSON schemas into ``components`` and drops FastAPI's 422, which the
server never answers (a failed validation is 400). docs/api.md, "OpenAPI".
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from glmserve.protocol.error_schemas import AnthropicErrorBody, ZaiErrorBody

__all__ = ["documented", "openapi", "Auth", "Surface"]

Surface = Literal["zai", "anthropic"]
Auth = Literal["key", "admin", "none"]

_SCHEMAS = "x-glmserve-schemas"
_AUTH = "x-glmserve-auth"
_STATUS_TEXT = {
    400: "Invalid request (business codes 1210-1215, 1231, 1261)",
    401: "Missing or invalid credentials (1000-1004)",
    403: "No permission for this API or this field (1220)",
    404: "Not found, or turned off here (1214, 1221, 1222)",
    408: "The body did not arrive in time (1210)",
    413: "The body is too large (1210)",
    435: "The file is over the size limit (1214)",
    429: "Over a limit, or the model is busy (1113, 1302-1304, 1312)",
    500: "The engine failed (1234)",
    503: "A service the limits need is unreachable (1234)",
}
BODY_ERRORS = (400, 408, 413)
"""What reading any JSON body can answer (api/body.py)."""
COMPLETION_ERRORS = (*BODY_ERRORS, 403, 429, 500, 503)
"""What a route that admits and runs a completion can answer besides."""


def documented(
    body: type[BaseModel] | None = None,
    *,
    surface: Surface = "zai",
    auth: Auth = "key",
    stream: bool = False,
    errors: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``router.post``/``router.get``: the request body's model,
    whether the answer may be a stream, the credentials taken, and the error statuses
    besides 401 (``auth`` "key" or "admin"); with a body, 400, 408 and 413 at least."""
    statuses = set(errors if errors is not None else BODY_ERRORS if body else ())
    if body is not None:
        statuses |= set(BODY_ERRORS)
    if auth != "none":
        statuses.add(401)
    error_model = AnthropicErrorBody if surface == "anthropic" else ZaiErrorBody
    success: dict[str, Any] = {"application/json": {"schema": {"type": "object"}}}
    if stream:
        success["text/event-stream"] = {
            "schema": {"type": "string", "description": "Server-sent events (docs/api.md)"}
        }
    responses: dict[int | str, dict[str, Any]] = {200: {"description": "OK", "content": success}}
    for status in sorted(statuses):
        responses[status] = {"description": _STATUS_TEXT.get(status, "Error"), "model": error_model}
    extra: dict[str, Any] = {_AUTH: auth}
    if body is not None:
        schema = body.model_json_schema(ref_template="#/components/schemas/{model}")
        defs = schema.pop("$defs", {})
        name = body.__name__
        extra["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
        extra[_SCHEMAS] = {name: schema, **defs}
    return {"responses": responses, "openapi_extra": extra}


def openapi(app: FastAPI, *, open_access: bool) -> dict[str, Any]:
    """The document, built once (``open_access``: no credential is needed, which the
    security requirements then say too)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    components["securitySchemes"] = _SECURITY_SCHEMES
    for path_item in doc.get("paths", {}).values():
        for operation in path_item.values():
            for name, schema in operation.pop(_SCHEMAS, {}).items():
                if schemas.setdefault(name, schema) != schema:
                    # two models of one name: rename one (the document names schemas by class)
                    raise RuntimeError(f"two different request schemas are named {name}")
            auth = operation.pop(_AUTH, "none")
            operation["security"] = _security(auth, open_access)
            operation.get("responses", {}).pop("422", None)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    app.openapi_schema = doc
    return doc


_SECURITY_SCHEMES = {
    "ApiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`id.secret`) as `Authorization: Bearer <key>`.",
    },
    "Jwt": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT signed with the key's secret, as Z.AI's SDKs make them.",
    },
    "XApiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "x-api-key",
        "description": "The API key in `x-api-key`, as Anthropic's clients send it.",
    },
    "AdminKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "The admin key (`[platform] admin_key`), for /admin.",
    },
}


def _security(auth: str, open_access: bool) -> list[dict[str, list[str]]]:
    if auth == "admin":
        return [{"AdminKey": []}]
    if auth == "none":
        return [{}]
    keyed: list[dict[str, list[str]]] = [{"ApiKey": []}, {"Jwt": []}, {"XApiKey": []}]
    return [*keyed, {}] if open_access else keyed
