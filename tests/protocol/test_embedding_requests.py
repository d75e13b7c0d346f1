"""Reading embeddings and rerank request bodies: every input shape OpenAI and Z.AI
clients send, and a Z.AI error for everything else."""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import pytest

from glmserve.errors import GlmServeError
from glmserve.protocol.embeddings import (
    embedding_body,
    parse_embedding_request,
    parse_rerank_request,
    read_json_object,
)


@pytest.mark.parametrize(
    ("given", "inputs"),
    [
        ("one text", ["one text"]),
        (["a", "b"], ["a", "b"]),
        ([101, 7592, 102], [[101, 7592, 102]]),
        ([[101, 102], [101, 7592, 102]], [[101, 102], [101, 7592, 102]]),
    ],
)
def test_input_shapes(given: Any, inputs: list[Any]) -> None:
    request = parse_embedding_request({"model": "embedding-3", "input": given})
    assert request.inputs == inputs
    assert request.encoding_format == "float" and request.dimensions is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"input": "a"}, "1213"),
        ({"model": "embedding-3"}, "1213"),
        ({"model": "embedding-3", "input": None}, "1213"),
        ({"model": "embedding-3", "input": ""}, "1214"),
        ({"model": "embedding-3", "input": []}, "1214"),
        ({"model": "embedding-3", "input": [[]]}, "1214"),
        ({"model": "embedding-3", "input": ["a", 3]}, "1214"),
        ({"model": "embedding-3", "input": [True, False]}, "1214"),
        ({"model": "embedding-3", "input": 5}, "1214"),
        ({"model": "embedding-3", "input": "a", "dimensions": "256"}, "1214"),
        ({"model": "embedding-3", "input": "a", "dimensions": -1}, "1214"),
        ({"model": "embedding-3", "input": "a", "encoding_format": "int8"}, "1214"),
        ({"model": 3, "input": "a"}, "1214"),
    ],
)
def test_bad_embedding_requests(body: dict[str, Any], code: str) -> None:
    with pytest.raises(GlmServeError) as err:
        parse_embedding_request(body)
    assert err.value.code == code and err.value.status == 400


def test_empty_input_message_is_zais() -> None:
    with pytest.raises(GlmServeError, match="Input cannot be empty"):
        parse_embedding_request({"model": "embedding-3", "input": ""})


def test_base64_is_little_endian_float32() -> None:
    vector = np.array([0.5, -0.25, 1.0])
    body = embedding_body("m", [vector], 3, "base64")
    raw = base64.b64decode(body["data"][0]["embedding"])
    assert np.frombuffer(raw, dtype="<f4").tolist() == [0.5, -0.25, 1.0]
    assert body["usage"] == {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3}


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"query": "q", "documents": ["d"]}, "1213"),
        ({"model": "rerank", "documents": ["d"]}, "1213"),
        ({"model": "rerank", "query": "q"}, "1213"),
        ({"model": "rerank", "query": "", "documents": ["d"]}, "1214"),
        ({"model": "rerank", "query": "q", "documents": []}, "1214"),
        ({"model": "rerank", "query": "q", "documents": ["d", 4]}, "1214"),
        ({"model": "rerank", "query": "q", "documents": ["d"], "top_n": 0}, "1214"),
        ({"model": "rerank", "query": "q", "documents": ["d"], "return_documents": "y"}, "1214"),
    ],
)
def test_bad_rerank_requests(body: dict[str, Any], code: str) -> None:
    with pytest.raises(GlmServeError) as err:
        parse_rerank_request(body)
    assert err.value.code == code


def test_rerank_request_defaults() -> None:
    request = parse_rerank_request({"model": "rerank", "query": "q", "documents": ["a", "b"]})
    assert request.top_n is None and not request.return_documents
    assert not request.return_raw_scores and request.request_id is None


def test_body_must_be_a_json_object() -> None:
    for body in (b"not json", b"[1, 2]"):
        with pytest.raises(GlmServeError) as err:
            read_json_object(body)
        assert err.value.code == "1210"
