"""Token generation behind one small interface (``Engine``); backends live beside it."""

from glmserve.engine.types import (
    ContextExceeded,
    Engine,
    EngineBusy,
    EngineInfo,
    EngineStats,
    FinishReason,
    Generation,
    GenerationRequest,
    SamplingParams,
    TokenOut,
    Usage,
)

__all__ = [
    "ContextExceeded",
    "Engine",
    "EngineBusy",
    "EngineInfo",
    "EngineStats",
    "FinishReason",
    "Generation",
    "GenerationRequest",
    "SamplingParams",
    "TokenOut",
    "Usage",
]
