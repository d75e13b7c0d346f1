"""A byte-level BPE vocabulary for test models, trained once and cached on disk.

Trained with the ``tokenizers`` package on a corpus every machine has: the ``.py`` files
of the running Python's standard library (code, comments and docstrings, so English
prose and JSON-like text tokenize at a realistic rate). Pre-tokenization is GPT-2's, the
one llama.cpp runs for ``tokenizer.ggml.pre = "gpt-2"``, so llama.cpp splits text
exactly as the trainer did. Training takes about half a minute; the result is kept in the
user's cache directory under a key made of the recipe and the corpus (file names and
sizes), so later runs only read it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import sysconfig
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import platformdirs
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

__all__ = ["Vocabulary", "byte_level", "cache_dir", "vocabulary"]

RECIPE = {"version": 1, "vocab_size": 32000, "min_frequency": 2, "pre": "gpt-2"}


@dataclass(frozen=True)
class Vocabulary:
    tokens: tuple[str, ...]
    """Token texts in byte-level form (GPT-2's printable stand-ins for bytes), by id."""
    merges: tuple[str, ...]
    """Merge rules as ``"left right"``, by rank."""
    path: Path
    """The cached tokenizer.json."""

    def tokenizer(self) -> Tokenizer:
        return Tokenizer.from_file(str(self.path))


def cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("glmserve")) / "test-models"


@cache
def byte_level() -> dict[int, str]:
    """GPT-2's byte -> printable character map (bytes that are printable stand for themselves)."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    extra = (b for b in range(256) if b not in printable)
    chars = {b: chr(b) for b in printable}
    chars.update({b: chr(0x100 + i) for i, b in enumerate(extra)})
    return chars


def vocabulary(directory: Path | None = None) -> Vocabulary:
    """The vocabulary, trained now if the cache does not hold it yet."""
    files = _corpus()
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    listing = "\n".join(f"{f.relative_to(stdlib)}:{f.stat().st_size}" for f in files)
    key = hashlib.sha256(
        json.dumps([RECIPE, sys.version, listing], sort_keys=True).encode()
    ).hexdigest()[:16]
    path = (directory or cache_dir()) / f"bpe-{key}.json"
    if not path.exists():
        _train(files, path)
    model = json.loads(path.read_text())["model"]
    tokens = sorted(model["vocab"], key=model["vocab"].__getitem__)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return Vocabulary(tuple(tokens), tuple(merges), path)


def _corpus() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "dist-packages"}
    return sorted(f for f in stdlib.rglob("*.py") if skip.isdisjoint(f.parts) and f.is_file())


def _train(files: list[Path], path: Path) -> None:
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=RECIPE["vocab_size"],
        min_frequency=RECIPE["min_frequency"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    texts = (f.read_bytes().decode("utf-8", errors="replace") for f in files)
    tokenizer.train_from_iterator(texts, trainer=trainer, length=len(files))
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    tokenizer.save(str(partial))
    os.replace(partial, path)  # atomic: a concurrent run sees the whole file or none
