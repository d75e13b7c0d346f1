"""The engine registry: which engine serves a model, built from its config.

Each served model names its engine kind (``ModelConfig.engine``): ``llama``, the
embedded llama.cpp in a worker process of its own, or ``remote``, inference servers
(vLLM, SGLang, llama-server) reached with token IDs (docs/remote-engine.md). Context
capping happens here and only here: an embedded model's context the config did not set
is capped at the model's trained context.

It is the one place above the backends that knows them: the serving layer builds every
engine here and sees only the ``Engine`` interface (types.py). A new engine kind is one
entry in ``ENGINE_KINDS``. The embedded engines' weights and the embedding engine
(llama.cpp in a worker process, the only embedding kind so far) are handed out here
too: ``default_model_path``, ``default_embedding_path``, ``EmbeddingEngine``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from glmserve.config import ModelConfig
from glmserve.engine.llama.embedding_weights import DEFAULT_EMBEDDING_WINDOW, default_embedding_path
from glmserve.engine.llama.embedding_worker import EmbeddingEngine, EmbeddingEngineSpec
from glmserve.engine.llama.native import NativeModel
from glmserve.engine.llama.weights import WeightsError, default_model_path
from glmserve.engine.llama.worker import LlamaWorkerSpec, WorkerEngine
from glmserve.engine.remote import RemoteEngine, RemoteSpec
from glmserve.engine.types import Engine

__all__ = [
    "DEFAULT_EMBEDDING_WINDOW",
    "ENGINE_KINDS",
    "EmbeddingEngine",
    "EmbeddingEngineSpec",
    "WeightsError",
    "build_engine",
    "default_embedding_path",
    "default_model_path",
]

log = logging.getLogger(__name__)

EngineBuilder = Callable[[ModelConfig, Path], Engine]


def _llama(config: ModelConfig, weights: Path) -> Engine:
    spec = LlamaWorkerSpec(
        gguf=weights,
        context_size=_served_context(config, weights),
        threads=config.threads,
        batch_size=config.batch_size,
        max_running=config.max_running,
        queue_limit=config.queue_limit,
        batch_invariant=config.batch_invariant,
        mmproj=config.mmproj,
    )
    return WorkerEngine(spec)


def _remote(config: ModelConfig, tokenizer: Path) -> Engine:
    """``tokenizer``: the model's Hugging Face folder or GGUF. Workers that are down are
    not an error (they are probed until they answer); bad values raise ValueError."""
    spec = RemoteSpec(
        workers=config.workers,
        tokenizer=tokenizer,
        context_size=config.context_size,
        routing=config.routing,
        vision=config.spec.capabilities.vision,
    )
    return RemoteEngine(spec)


ENGINE_KINDS: dict[str, EngineBuilder] = {"llama": _llama, "remote": _remote}


def build_engine(config: ModelConfig, weights: Path) -> Engine:
    """The running engine of one served model. Raises ValueError, RuntimeError or
    OSError when the weights cannot be loaded."""
    return ENGINE_KINDS[config.engine](config, weights)


def _served_context(config: ModelConfig, weights: Path) -> int:
    """The configured context, capped at the trained one unless the config set it."""
    context = config.context_size
    if config.context_explicit:
        return context
    vocab = NativeModel(weights, vocab_only=True)
    trained = vocab.trained_context
    vocab.close()
    if 0 < trained < context:
        log.info("%s: context capped at the trained %d tokens", config.code, trained)
        return trained
    return context
