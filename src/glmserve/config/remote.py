"""A model served by remote workers (``engine = "remote"``): its tokenizer, its
``[[models.workers]]`` and its routing, checked at start-up. What each key means:
docs/configuration.md and docs/remote-engine.md."""

from __future__ import annotations

from pathlib import Path

from glmserve.catalog import ModelSpec
from glmserve.config.file import ModelFile
from glmserve.config.settings import (
    DEFAULT_MAX_IN_FLIGHT,
    ConfigError,
    ModelConfig,
    RemoteWorker,
)

__all__ = ["REMOTE_KEYS", "remote_config"]

REMOTE_KEYS = ("tokenizer", "routing", "workers")
_EMBEDDED_KEYS = (
    "gguf",
    "mmproj",
    "threads",
    "batch_size",
    "max_running",
    "queue_limit",
    "batch_invariant",
)


def remote_config(spec: ModelSpec, entry: ModelFile, path: Path | None, label: str) -> ModelConfig:
    """A model served by remote workers: its tokenizer, workers and routing. Whether a
    worker answers is not checked here: one that is down is probed until it does."""
    embedded = [k for k in _EMBEDDED_KEYS if getattr(entry, k) is not None]
    if embedded:
        raise ConfigError(
            f'{label}: {", ".join(embedded)} are for the embedded engine, not engine = "remote"'
        )
    if entry.tokenizer is None:
        raise ConfigError(
            f"{label}: 'tokenizer' (the model's Hugging Face folder or GGUF) is required "
            'with engine = "remote"'
        )
    tokenizer = Path(entry.tokenizer).expanduser()
    if not tokenizer.is_absolute() and path is not None:
        tokenizer = path.parent / tokenizer
    if tokenizer.is_dir():
        if not (tokenizer / "tokenizer.json").is_file():
            raise ConfigError(f"{label}: tokenizer folder {tokenizer} has no tokenizer.json")
    elif not (tokenizer.is_file() and tokenizer.suffix.lower() == ".gguf"):
        raise ConfigError(
            f"{label}: tokenizer {tokenizer} is neither a Hugging Face folder nor a .gguf file"
        )
    if not entry.workers:
        raise ConfigError(f'{label}: engine = "remote" needs at least one [[models.workers]]')
    urls = [w.url.rstrip("/") for w in entry.workers]
    twice = sorted({u for u in urls if urls.count(u) > 1})
    if twice:
        raise ConfigError(f"{label}: worker(s) {', '.join(twice)} listed more than once")
    _check_vision(entry, tokenizer, label)
    workers = tuple(
        RemoteWorker(
            url=w.url,
            kind=w.kind,
            model=w.model,
            api_key=w.api_key,
            max_in_flight=w.max_in_flight or DEFAULT_MAX_IN_FLIGHT,
        )
        for w in entry.workers
    )
    return ModelConfig(
        spec=spec,
        gguf=None,
        # The workers' window: the config's, else the model's (catalog) context window.
        context_size=entry.context_size or spec.context_window,
        threads=1,
        engine="remote",
        context_explicit=entry.context_size is not None,
        tokenizer=tokenizer,
        routing=entry.routing or "prefix",
        workers=workers,
    )


def _check_vision(entry: ModelFile, tokenizer: Path, label: str) -> None:
    """``capabilities.vision = true`` said outright must be servable: workers that take
    images (vLLM, SGLang) and the model folder's image processor config. A vision model
    of the catalog without them starts, and refuses images with 1214."""
    if entry.capabilities is None or entry.capabilities.vision is not True:
        return
    blind = sorted({w.kind for w in entry.workers or () if w.kind == "llama-server"})
    if blind:
        raise ConfigError(
            f"{label}: capabilities.vision = true, but {', '.join(blind)} workers take no images"
        )
    configs = ("preprocessor_config.json", "processor_config.json")
    if not any((tokenizer / name).is_file() for name in configs):
        raise ConfigError(
            f"{label}: capabilities.vision = true needs the model folder's "
            f"preprocessor_config.json (the image processor) in {tokenizer}"
        )
