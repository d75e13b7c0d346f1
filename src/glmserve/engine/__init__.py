"""Token generation behind one small interface (``Engine``); backends live beside it."""

from glmserve.engine.types import (
    Engine,
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
    "Engine",
    "EngineInfo",
    "EngineStats",
    "FinishReason",
    "Generation",
    "GenerationRequest",
    "SamplingParams",
    "TokenOut",
    "Usage",
]
