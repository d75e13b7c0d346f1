"""Image and video generation behind one small interface: diffusers pipelines in an
engine process of their own (engine.py, child.py), or remote workers speaking OpenAI's
``/v1/images/generations`` (remote.py). docs/images.md."""

from glmserve.engine.diffusion.child import DiffusionSpec
from glmserve.engine.diffusion.engine import DiffusionEngine, DiffusionStats
from glmserve.engine.diffusion.folder import KNOWN_PIPELINES, pipeline_info
from glmserve.engine.diffusion.types import (
    Clip,
    DiffusionBusy,
    DiffusionFailed,
    DiffusionJob,
    Marks,
    OnProgress,
    Picture,
    PipelineInfo,
)

__all__ = [
    "Clip",
    "DiffusionBusy",
    "DiffusionEngine",
    "DiffusionFailed",
    "DiffusionJob",
    "DiffusionSpec",
    "DiffusionStats",
    "KNOWN_PIPELINES",
    "Marks",
    "OnProgress",
    "Picture",
    "PipelineInfo",
    "pipeline_info",
]
