"""The remote engine: glmserve's engine interface in front of vLLM, SGLang and
llama-server workers, reached with token IDs (docs/architecture.md)."""

from glmserve.engine.remote.engine import RemoteEngine
from glmserve.engine.remote.errors import ContextExceeded
from glmserve.engine.remote.replica import WorkerStats
from glmserve.engine.remote.spec import (
    ROUTINGS,
    WORKER_KINDS,
    RemoteSpec,
    Routing,
    WorkerKind,
    WorkerSpec,
)
from glmserve.engine.remote.tokenizer import GatewayTokenizer, load_tokenizer

__all__ = [
    "RemoteEngine",
    "RemoteSpec",
    "WorkerSpec",
    "WorkerKind",
    "Routing",
    "WORKER_KINDS",
    "ROUTINGS",
    "WorkerStats",
    "ContextExceeded",
    "GatewayTokenizer",
    "load_tokenizer",
]
