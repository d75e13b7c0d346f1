"""A BERT cross-encoder for the rerank tests, built from all-MiniLM-L6-v2.

No package on PyPI ships a trained cross-encoder reranker, so the tests build one with
the architecture of sentence-transformers' cross-encoders (Hugging Face
``BertForSequenceClassification``: a BERT encoder, the pooler on the [CLS] state, a
one-label classifier): MiniLM's encoder and pooler, and a classifier drawn from a fixed
seed. Its scores mean nothing, but they are exactly defined, so glmserve's (llama.cpp,
rank pooling) can be compared with the reference library's
(tests/support/embedding_reference.py records them).
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import numpy as np

SEED = 15
FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def build_cross_encoder(source: Path, target: Path) -> Path:
    """Write the cross-encoder's Hugging Face folder at ``target`` from MiniLM's ``source``."""
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        shutil.copy(source / name, target / name)
    config = json.loads((source / "config.json").read_text())
    config["architectures"] = ["BertForSequenceClassification"]
    config["id2label"] = {"0": "LABEL_0"}
    config["label2id"] = {"LABEL_0": 0}
    (target / "config.json").write_text(json.dumps(config, indent=1))
    tensors = dict(_read(source / "model.safetensors"))
    rng = np.random.default_rng(SEED)
    hidden = config["hidden_size"]
    tensors["classifier.weight"] = rng.normal(0.0, 4.0, (1, hidden)).astype(np.float32)
    tensors["classifier.bias"] = np.array([0.25], dtype=np.float32)
    _write(target / "model.safetensors", tensors)
    return target


def _read(path: Path) -> list[tuple[str, np.ndarray]]:  # type: ignore[type-arg]
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[8 + length + start : 8 + length + end]
        out.append((name, np.frombuffer(raw, dtype=dtypes[info["dtype"]]).reshape(info["shape"])))
    return out


def _write(path: Path, tensors: dict[str, np.ndarray]) -> None:  # type: ignore[type-arg]
    names = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    header: dict[str, object] = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        blob = np.ascontiguousarray(tensors[name]).astype(tensors[name].dtype.newbyteorder("<"))
        raw = blob.tobytes()
        header[name] = {
            "dtype": names[tensors[name].dtype],
            "shape": list(tensors[name].shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    encoded = json.dumps(header).encode()
    encoded += b" " * (-len(encoded) % 8)
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for raw in blobs:
            out.write(raw)
