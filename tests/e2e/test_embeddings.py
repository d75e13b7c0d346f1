"""Embeddings and rerank through the real HTTP app: the real default embedding model
(all-MiniLM-L6-v2 converted to GGUF, llama.cpp in its engine process), the official
zai-sdk and openai clients unchanged, the usage ledger.

The reference vectors are sentence-transformers' own (tests/support/embedding_reference.py
made tests/support/fixtures/minilm_reference.json once, with the library).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from openai import BadRequestError, OpenAI
from zai import ZaiClient
from zai.core import APIRequestFailedError

from glmserve.engine.llama.embedding_weights import convert_bert, default_embedding_source
from tests.conftest import Server
from tests.support.reranker import build_cross_encoder

FIXTURE = Path(__file__).parents[1] / "support" / "fixtures" / "minilm_reference.json"
CROSS = Path(__file__).parents[1] / "support" / "fixtures" / "cross_encoder_reference.json"
ADMIN = "embeddings-admin-key-0123456789"


@pytest.fixture(scope="module")
def reference() -> dict:  # type: ignore[type-arg]
    return json.loads(FIXTURE.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[Server]:
    """A gateway with keys (to check the ledger) serving the default embedding model."""
    tmp = tmp_path_factory.mktemp("embeddings")
    # The test cross-encoder (tests/support/reranker.py), converted like the default model.
    folder = build_cross_encoder(default_embedding_source(), tmp / "cross-encoder")
    cross = tmp / "cross-encoder.gguf"
    convert_bert(folder, cross, progress=False)
    config = tmp / "glmserve.toml"
    config.write_text(
        f'[platform]\nadmin_key = "{ADMIN}"\ndata_dir = "{tmp / "data"}"\n\n'
        '[embeddings]\nbatch_size = 512\nrerank = "all-minilm-l6-v2"\n\n'
        f'[[embeddings.models]]\ncode = "test-cross-encoder"\ngguf = "{cross}"\n'
    )
    srv = Server(config, tmp / "server.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def api_key(server: Server) -> str:
    r = httpx.post(
        f"{server.base}/admin/keys",
        json={"name": "embedder", "tier": "V3", "balance": 5},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["api_key"])


@pytest.fixture(scope="module")
def zai(server: Server, api_key: str) -> ZaiClient:
    return ZaiClient(api_key=api_key, base_url=server.zai_base)


@pytest.fixture(scope="module")
def openai(server: Server, api_key: str) -> OpenAI:
    return OpenAI(api_key=api_key, base_url=f"{server.base}/v1")


def _processes(pid: int) -> set[int]:
    """The server's process and all its descendants."""
    found = {pid}
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            found |= _processes(int(child))
    return found


def test_the_embedding_engine_starts_on_first_use(server: Server, api_key: str) -> None:
    """A server that is never asked for embeddings never holds their weights: the
    models are listed (from the GGUF metadata), their engine processes start on use."""
    before = _processes(server.proc.pid)
    models = httpx.get(
        f"{server.zai_base}/models", headers={"Authorization": f"Bearer {api_key}"}, timeout=30
    )
    assert {"all-minilm-l6-v2", "test-cross-encoder"} <= {m["id"] for m in models.json()["data"]}
    assert _processes(server.proc.pid) == before
    r = _post(server, api_key, "/embeddings", {"model": "embedding-3", "input": "hello"})
    assert r.status_code == 200, r.text
    assert len(r.json()["data"][0]["embedding"]) == 384
    started = _processes(server.proc.pid) - before
    assert len(started) == 1  # the default model's engine; the cross-encoder's not yet


def _post(server: Server, key: str, path: str, body: dict) -> httpx.Response:  # type: ignore[type-arg]
    return httpx.post(
        f"{server.zai_base}{path}",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
        timeout=60,
    )


def _cosine(a: np.ndarray, b: np.ndarray) -> float:  # type: ignore[type-arg]
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_vectors_equal_sentence_transformers(zai: ZaiClient, reference: dict) -> None:  # type: ignore[type-arg]
    items = reference["items"]
    response = zai.embeddings.create(model="all-minilm-l6-v2", input=[i["text"] for i in items])
    assert response.object == "list" and response.model == "all-minilm-l6-v2"
    assert [d.index for d in response.data] == list(range(len(items)))
    for item, data in zip(items, response.data, strict=True):
        ours, theirs = np.array(data.embedding), np.array(item["embedding"])
        assert ours.shape == (384,)
        assert _cosine(ours, theirs) >= 0.999, item["text"]
        assert abs(np.linalg.norm(ours) - 1.0) < 1e-6
    # Token counts are the reference tokenizer's ([CLS] and [SEP] included).
    assert response.usage.prompt_tokens == sum(i["tokens"] for i in items)
    assert response.usage.total_tokens == response.usage.prompt_tokens


def test_zai_sdk_embedding_3_with_dimensions(zai: ZaiClient, reference: dict) -> None:  # type: ignore[type-arg]
    texts = [i["text"] for i in reference["items"][:3]]
    full = zai.embeddings.create(model="embedding-3", input=texts)
    cut = zai.embeddings.create(model="embedding-3", input=texts, dimensions=256)
    assert full.model == "embedding-3" and len(full.data[0].embedding) == 384
    for whole, short in zip(full.data, cut.data, strict=True):
        vector = np.array(short.embedding)
        assert vector.shape == (256,)
        assert abs(np.linalg.norm(vector) - 1.0) < 1e-6
        expected = np.array(whole.embedding)[:256]
        expected /= np.linalg.norm(expected)
        assert np.allclose(vector, expected, atol=1e-6)


def test_dimensions_the_model_does_not_have(zai: ZaiClient) -> None:
    # embedding-3 documents 512, but the model behind it here has 384 dimensions.
    with pytest.raises(APIRequestFailedError) as err:
        zai.embeddings.create(model="embedding-3", input=["x"], dimensions=512)
    assert '"1214"' in str(err.value) and "384" in str(err.value)
    with pytest.raises(APIRequestFailedError) as err:
        zai.embeddings.create(model="embedding-3", input=["x"], dimensions=300)
    assert '"1214"' in str(err.value)


def test_openai_sdk(openai: OpenAI, reference: dict) -> None:  # type: ignore[type-arg]
    item = reference["items"][0]
    # The openai SDK asks for base64 unless told otherwise; both must give the vector.
    for kwargs in ({}, {"encoding_format": "float"}):
        response = openai.embeddings.create(model="embedding-3", input=item["text"], **kwargs)
        vector = np.array(response.data[0].embedding)
        assert _cosine(vector, np.array(item["embedding"])) >= 0.999
        assert response.usage.prompt_tokens == item["tokens"]
    with pytest.raises(BadRequestError):
        openai.embeddings.create(model="embedding-3", input=[])


def test_token_arrays(server: Server, api_key: str, reference: dict) -> None:  # type: ignore[type-arg]
    text = reference["items"][3]["text"]
    by_text = _post(server, api_key, "embeddings", {"model": "embedding-3", "input": text})
    # The same text as the model's own token IDs ([CLS] how do i reset my password? [SEP]).
    ids = [101, 2129, 2079, 1045, 25141, 2026, 20786, 1029, 102]
    one = _post(server, api_key, "embeddings", {"model": "embedding-3", "input": ids})
    many = _post(server, api_key, "embeddings", {"model": "embedding-3", "input": [ids, ids]})
    assert one.status_code == 200 and many.status_code == 200, one.text
    a = np.array(by_text.json()["data"][0]["embedding"])
    b = np.array(one.json()["data"][0]["embedding"])
    assert _cosine(a, b) >= 0.9999
    assert len(many.json()["data"]) == 2
    bad = _post(server, api_key, "embeddings", {"model": "embedding-3", "input": [101, 40000]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "1214"
    assert "vocabulary" in bad.json()["error"]["message"]


def test_request_limits_and_errors(server: Server, api_key: str) -> None:
    def code(body: dict) -> tuple[int, str]:  # type: ignore[type-arg]
        r = _post(server, api_key, "embeddings", body)
        return r.status_code, r.json()["error"]["code"]

    ok = _post(server, api_key, "embeddings", {"model": "embedding-3", "input": ["a"] * 64})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 64
    assert code({"model": "embedding-3", "input": ["a"] * 65}) == (400, "1214")
    assert code({"model": "embedding-3", "input": ""}) == (400, "1214")
    assert code({"model": "embedding-3", "input": ["a", " "]}) == (400, "1214")
    assert code({"model": "embedding-3"}) == (400, "1213")
    assert code({"input": "a"}) == (400, "1213")
    assert code({"model": "no-such-embedder", "input": "a"}) == (400, "1211")
    assert code({"model": "embedding-3", "input": "a", "dimensions": 0}) == (400, "1214")
    assert code({"model": "embedding-3", "input": [{"text": "a"}]}) == (400, "1214")
    # The model's window is 256 tokens: longer inputs are refused, with the numbers.
    r = _post(server, api_key, "embeddings", {"model": "embedding-3", "input": "word " * 300})
    assert r.status_code == 400 and r.json()["error"]["code"] == "1261"
    assert "256" in r.json()["error"]["message"]


def test_models_lists_the_real_limits(server: Server, api_key: str) -> None:
    r = httpx.get(
        f"{server.zai_base}models", headers={"Authorization": f"Bearer {api_key}"}, timeout=10
    )
    entries = {m["id"]: m for m in r.json()["data"]}
    three = entries["embedding-3"]
    assert three["dimensions"] == 384 and three["max_input_tokens"] == 256
    assert three["max_inputs"] == 64 and three["served_by"] == "all-minilm-l6-v2"
    assert three["dimension_choices"] == [256, 384]
    assert entries["rerank"]["served_by"] == "all-minilm-l6-v2-cosine"


def test_rerank_orders_related_documents_first(server: Server, api_key: str) -> None:
    documents = [
        "The stock market closed higher on Friday after strong earnings reports.",
        "To bake bread, mix flour, water, salt and yeast, then let the dough rise.",
        "Cats are small domesticated carnivorous mammals kept as pets.",
        "Sourdough bread uses a fermented starter instead of commercial yeast.",
    ]
    body = {
        "model": "rerank",
        "query": "How do I make bread at home?",
        "documents": documents,
        "top_n": 3,
        "return_documents": True,
    }
    r = _post(server, api_key, "rerank", body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"] == "all-minilm-l6-v2-cosine"
    ranked = [x["index"] for x in out["results"]]
    assert len(ranked) == 3 and set(ranked[:2]) == {1, 3}
    scores = [x["relevance_score"] for x in out["results"]]
    assert scores == sorted(scores, reverse=True)
    assert out["results"][0]["document"] == documents[ranked[0]]
    assert out["usage"]["prompt_tokens"] > 0 and out["id"] and out["request_id"]
    bad = _post(server, api_key, "rerank", {"model": "rerank", "query": "q", "documents": []})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "1214"


def test_ledger_bills_at_the_catalog_price(server: Server, reference: dict) -> None:  # type: ignore[type-arg]
    r = httpx.post(
        f"{server.base}/admin/keys",
        json={"name": "ledger", "tier": "V3", "balance": 1},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    key_id, key = r.json()["id"], r.json()["api_key"]
    texts = [i["text"] for i in reference["items"]]
    for model in ("embedding-3", "all-minilm-l6-v2"):
        assert _post(server, key, "embeddings", {"model": model, "input": texts}).status_code == 200
    tokens = sum(i["tokens"] for i in reference["items"])
    for _ in range(100):  # records are written once each response is over
        usage = httpx.get(
            f"{server.base}/admin/usage",
            params={"key": key_id},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=10,
        ).json()["data"]
        if len(usage) == 2:
            break
    rows = {row["model"]: row for row in usage}
    assert rows["embedding-3"]["prompt_tokens"] == tokens
    # embedding-3: 0.07 USD per million input tokens; the default model's own code is free.
    assert rows["embedding-3"]["cost"] == f"{tokens * 0.07 / 1e6:.9f}"
    assert rows["all-minilm-l6-v2"]["cost"] == "0.000000000"


def test_cross_encoder_scores_equal_transformers(server: Server, api_key: str) -> None:
    reference = json.loads(CROSS.read_text(encoding="utf-8"))
    body = {
        "model": "test-cross-encoder",
        "query": reference["query"],
        "documents": reference["documents"],
        "return_raw_scores": True,
    }
    r = _post(server, api_key, "rerank", body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"] == "test-cross-encoder"
    expected = reference["logits_type0"]  # llama.cpp gives every token segment type 0
    assert [x["index"] for x in out["results"]] == sorted(
        range(len(expected)), key=lambda i: -expected[i]
    )
    for result in out["results"]:
        raw = result["raw_score"]
        # The seeded head multiplies float rounding (its weights have norm ~80): within
        # 0.01 of logits that lie 0.8 or more apart.
        assert abs(raw - expected[result["index"]]) < 1e-2
        assert abs(result["relevance_score"] - 1 / (1 + np.exp(-raw))) < 1e-9
    # [CLS] query [SEP] document [SEP], as the reference tokenizer pairs them.
    assert out["usage"]["prompt_tokens"] == sum(reference["tokens"])
    # A reranker is not an embedding model.
    r = _post(server, api_key, "embeddings", {"model": "test-cross-encoder", "input": "x"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "1214"
