"""Settings of the embedding models and the rerank endpoint (TOML ``[embeddings]``).

    [embeddings]
    default_model = true           # all-MiniLM-L6-v2, converted to GGUF on first use
    aliases = ["embedding-3"]      # other codes that name it
    truncate = false               # longer inputs: error 1261 (false) or cut (true)
    rerank = "all-minilm-l6-v2"    # whose cosine similarity ranks /rerank documents

    [[embeddings.models]]          # a user's own embedding GGUF
    code = "bge-m3"
    gguf = "/models/bge-m3-f16.gguf"
    aliases = ["embedding-2"]
    matryoshka = false             # may ``dimensions`` truncate its vectors?

What each key means: docs/configuration.md and docs/embeddings.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from glmserve.catalog import Price
from glmserve.config.file import EmbeddingsFile

__all__ = ["DEFAULT_EMBEDDING_CODE", "EmbeddingModelConfig", "EmbeddingSettings", "embeddings"]

DEFAULT_EMBEDDING_CODE = "all-minilm-l6-v2"


@dataclass(frozen=True)
class EmbeddingModelConfig:
    code: str
    gguf: Path | None
    """None: the built-in default (all-MiniLM-L6-v2), converted on first use."""
    aliases: tuple[str, ...]
    threads: int
    batch_size: int
    """Tokens per decode: the longest input it takes, and what inputs share."""
    truncate: bool
    """Inputs longer than the window: cut to it (true) or refused with 1261 (false)."""
    matryoshka: bool
    """``dimensions`` may truncate the model's vectors (then re-normalised)."""
    max_input_tokens: int | None = None
    price: Price | None = None
    """Overrides the catalog's price for the code (USD per million input tokens)."""

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.code, *self.aliases)


@dataclass(frozen=True)
class EmbeddingSettings:
    models: tuple[EmbeddingModelConfig, ...] = ()
    rerank: str | None = None
    """The code of the embedding model ``/rerank`` ranks with (None: the first)."""


def embeddings(
    section: EmbeddingsFile, config_path: Path | None, threads: int, where: str
) -> EmbeddingSettings:
    """The validated ``[embeddings]`` section; raises ValueError (``load.py`` turns it
    into a ConfigError)."""
    models: list[EmbeddingModelConfig] = []
    for index, entry in enumerate(section.models):
        label = f"{where}: embeddings.models[{index}] ({entry.code})"
        gguf = Path(entry.gguf).expanduser()
        if not gguf.is_absolute() and config_path is not None:
            gguf = config_path.parent / gguf
        if not gguf.is_file():
            raise ValueError(f"{label}: gguf file {gguf} does not exist")
        price = Price(entry.price, entry.price, 0.0) if entry.price is not None else None
        models.append(
            EmbeddingModelConfig(
                code=entry.code,
                gguf=gguf,
                aliases=tuple(entry.aliases),
                threads=entry.threads or threads,
                batch_size=entry.batch_size,
                truncate=entry.truncate,
                matryoshka=entry.matryoshka,
                max_input_tokens=entry.max_input_tokens,
                price=price,
            )
        )
    if section.default_model and all(m.code != DEFAULT_EMBEDDING_CODE for m in models):
        models.append(
            EmbeddingModelConfig(
                code=DEFAULT_EMBEDDING_CODE,
                gguf=None,
                aliases=tuple(section.aliases),
                threads=section.threads or threads,
                batch_size=section.batch_size,
                truncate=section.truncate,
                matryoshka=True,
            )
        )
    codes = [code for m in models for code in m.codes]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ValueError(f"{where}: embedding model code(s) {', '.join(duplicates)} repeat")
    if "rerank" in codes:
        raise ValueError(f"{where}: 'rerank' is reserved for the rerank endpoint")
    if section.rerank is not None and section.rerank not in codes:
        raise ValueError(f"{where}: embeddings.rerank {section.rerank!r} is no embedding model")
    return EmbeddingSettings(models=tuple(models), rerank=section.rerank)
