"""The default embedding model's conversion to GGUF: checksums, caching, refusal of a
corrupted checkpoint."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from glmserve.engine.llama.embedding import EmbeddingModel
from glmserve.engine.llama.embedding_weights import (
    SOURCE_SHA256,
    convert_bert,
    default_embedding_path,
    default_embedding_source,
    file_sha256,
)
from glmserve.engine.llama.weights import WeightsError


def test_the_package_ships_the_pinned_checkpoint() -> None:
    assert file_sha256(default_embedding_source() / "model.safetensors") == SOURCE_SHA256


def test_conversion_is_checked_cached_and_reproducible(tmp_path: Path) -> None:
    path = default_embedding_path(tmp_path, progress=False)
    digest, size = (tmp_path / "models" / (path.name + ".sha256")).read_text().split()
    assert file_sha256(path) == digest and path.stat().st_size == int(size)
    # The second start uses the cached file as it is.
    mtime = path.stat().st_mtime_ns
    assert default_embedding_path(tmp_path, progress=False) == path
    assert path.stat().st_mtime_ns == mtime
    # The converter is deterministic: the same checkpoint gives the same bytes.
    assert (
        convert_bert(default_embedding_source(), tmp_path / "again.gguf", progress=False) == digest
    )
    # A truncated cache file is converted again, not served.
    with path.open("r+b") as f:
        f.truncate(1000)
    assert file_sha256(default_embedding_path(tmp_path, progress=False)) == digest
    model = EmbeddingModel(path, threads=1, batch_size=64)
    try:
        assert (model.info.dimensions, model.info.pooling) == (384, "mean")
        assert model.info.vocab_size == 30522
    finally:
        model.close()


def test_a_corrupted_checkpoint_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(default_embedding_source(), source)
    with (source / "model.safetensors").open("r+b") as f:
        f.seek(4096)
        byte = f.read(1)
        f.seek(4096)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(WeightsError, match="SHA-256"):
        default_embedding_path(tmp_path / "cache", progress=False, source=source)
    assert not list((tmp_path / "cache").rglob("*.gguf"))
