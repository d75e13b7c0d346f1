"""Wire types of ``POST /embeddings`` and ``POST /rerank``: reading a request body into
checked values (Z.AI errors on anything wrong), and writing the response bodies.

Embeddings (docs/api.md "Embeddings"): ``input`` is a string, a list of strings, a list
of token IDs or a list of token-ID lists; ``dimensions``, ``encoding_format`` ("float",
or "base64": little-endian float32, which the openai SDK asks for by default),
``request_id`` and ``user`` are optional. Rerank (docs/api.md "Rerank"): ``query``,
``documents`` (strings), ``top_n``, ``return_documents``, ``return_raw_scores``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from glmserve.errors import InvalidField, InvalidRequest, MissingField
from glmserve.protocol.stored import check_stored

__all__ = [
    "EmbeddingRequest",
    "EmbeddingsBody",
    "RerankBody",
    "json_object",
    "RerankRequest",
    "embedding_body",
    "rerank_body",
    "RankedLike",
    "parse_embedding_request",
    "parse_rerank_request",
    "read_json_object",
]

EmbeddingInput = str | list[int]


@dataclass(frozen=True)
class EmbeddingRequest:
    model: str
    inputs: list[EmbeddingInput]
    dimensions: int | None
    encoding_format: Literal["float", "base64"]
    request_id: str | None


@dataclass(frozen=True)
class RerankRequest:
    model: str
    query: str
    documents: list[str]
    top_n: int | None
    return_documents: bool
    return_raw_scores: bool
    request_id: str | None


class EmbeddingsBody(BaseModel):
    """The body of ``POST /embeddings`` as the OpenAPI document describes it (docs/api.md
    "OpenAPI"); ``parse_embedding_request`` is what checks a body, with Z.AI's codes."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str | list[str] | list[int] | list[list[int]]
    dimensions: int | None = Field(default=None, ge=1)
    encoding_format: Literal["float", "base64"] | None = None
    request_id: str | None = None
    user: str | None = None


class RerankBody(BaseModel):
    """The body of ``POST /rerank`` as the OpenAPI document describes it; checked by
    ``parse_rerank_request``."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    query: str = Field(min_length=1)
    documents: list[str] = Field(min_length=1)
    top_n: int | None = Field(default=None, ge=1)
    return_documents: bool | None = None
    return_raw_scores: bool | None = None
    request_id: str | None = None


def json_object(raw: Any) -> dict[str, Any]:
    """A parsed body that must be a JSON object."""
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return raw


def read_json_object(body: bytes) -> dict[str, Any]:
    try:
        raw = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return raw


def parse_embedding_request(raw: Mapping[str, Any]) -> EmbeddingRequest:
    """Check an embeddings request body; raise a typed Z.AI error on any problem."""
    model = _model(raw)
    if raw.get("input") is None:
        raise MissingField("input")
    inputs = _inputs(raw["input"])
    dimensions = raw.get("dimensions")
    if dimensions is not None and (
        isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
    ):
        raise InvalidField("dimensions", "must be a positive whole number")
    encoding: Literal["float", "base64"] = "float"
    if raw.get("encoding_format") == "base64":
        encoding = "base64"
    elif raw.get("encoding_format") not in (None, "float"):
        raise InvalidField("encoding_format", "must be 'float' or 'base64'")
    return EmbeddingRequest(model, inputs, dimensions, encoding, _request_id(raw))


def parse_rerank_request(raw: Mapping[str, Any]) -> RerankRequest:
    """Check a rerank request body; raise a typed Z.AI error on any problem."""
    model = _model(raw)
    query = raw.get("query")
    if query is None:
        raise MissingField("query")
    if not isinstance(query, str) or not query.strip():
        raise InvalidField("query", "must be a non-empty string")
    documents = raw.get("documents")
    if documents is None:
        raise MissingField("documents")
    if not isinstance(documents, list) or not documents:
        raise InvalidField("documents", "must be a non-empty list of strings")
    if not all(isinstance(d, str) and d.strip() for d in documents):
        raise InvalidField("documents", "every document must be a non-empty string")
    top_n = raw.get("top_n")
    if top_n is not None and (isinstance(top_n, bool) or not isinstance(top_n, int) or top_n < 1):
        raise InvalidField("top_n", "must be a positive whole number")
    flags = {}
    for name in ("return_documents", "return_raw_scores"):
        value = raw.get(name, False)
        if value is None:
            value = False
        if not isinstance(value, bool):
            raise InvalidField(name, "must be true or false")
        flags[name] = value
    return RerankRequest(
        model=model,
        query=query,
        documents=documents,
        top_n=top_n,
        return_documents=flags["return_documents"],
        return_raw_scores=flags["return_raw_scores"],
        request_id=_request_id(raw),
    )


class RankedLike(Protocol):
    """One ranked document, as the serving layer types it (its ``RankedDocument``)."""

    @property
    def index(self) -> int: ...
    @property
    def relevance_score(self) -> float: ...
    @property
    def raw_score(self) -> float | None: ...
    @property
    def document(self) -> str | None: ...


def rerank_body(
    *,
    id: str,
    created: int,
    request_id: str,
    model: str,
    ranked: Sequence[RankedLike],
    prompt_tokens: int,
) -> dict[str, Any]:
    """The ``POST /rerank`` response body (docs/embeddings.md): the documents by relevance,
    each with its document and raw score where the request asked for them."""
    results = []
    for doc in ranked:
        result: dict[str, Any] = {"index": doc.index, "relevance_score": doc.relevance_score}
        if doc.document is not None:
            result["document"] = doc.document
        if doc.raw_score is not None:
            result["raw_score"] = doc.raw_score
        results.append(result)
    return {
        "id": id,
        "created": created,
        "request_id": request_id,
        "model": model,
        "results": results,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }


def embedding_body(
    model: str,
    vectors: Sequence[np.ndarray[Any, Any]],
    prompt_tokens: int,
    encoding_format: Literal["float", "base64"],
) -> dict[str, Any]:
    """The response body (docs/api.md "Embeddings"; Z.AI's shape, which OpenAI's is)."""
    data = [
        {"index": i, "object": "embedding", "embedding": _encode(vector, encoding_format)}
        for i, vector in enumerate(vectors)
    ]
    return {
        "model": model,
        "object": "list",
        "data": data,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": 0,
            "total_tokens": prompt_tokens,
        },
    }


def _encode(vector: np.ndarray[Any, Any], encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    values: list[float] = vector.astype(np.float64).tolist()
    return values


def _model(raw: Mapping[str, Any]) -> str:
    model = raw.get("model")
    if model is None:
        raise MissingField("model")
    if not isinstance(model, str) or not model:
        raise InvalidField("model", "must be a model code")
    check_stored("model", model)
    return model


def _request_id(raw: Mapping[str, Any]) -> str | None:
    value = raw.get("request_id")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidField("request_id", "must be a string")
    check_stored("request_id", str(value))
    return str(value)


def _inputs(value: Any) -> list[EmbeddingInput]:
    """The inputs, each a string or a token-ID list (OpenAI's four input shapes)."""
    if isinstance(value, str):
        items: list[Any] = [value]
    elif isinstance(value, list):
        if not value:
            raise InvalidField("input", "Input cannot be empty")
        # One list of integers is one input given as tokens.
        items = [value] if all(_is_token(t) for t in value) else value
    else:
        raise InvalidField("input", "must be a string, a list of strings or token arrays")
    out: list[EmbeddingInput] = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            if not item.strip():
                raise InvalidField(f"input[{index}]", "Input cannot be empty")
            out.append(item)
        elif isinstance(item, list) and all(_is_token(t) for t in item):
            if not item:
                raise InvalidField(f"input[{index}]", "Input cannot be empty")
            out.append(list(item))
        else:
            raise InvalidField(f"input[{index}]", "must be a string or a list of token IDs")
    return out


def _is_token(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
