"""What an image or video generation asks of a diffusion engine, and what it gives back.

Plain values (picklable), shared by the embedded engine (a diffusers pipeline in an
engine process of its own) and the remote one (OpenAI-images workers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from glmserve.engine.media import ImageInput

__all__ = [
    "Clip",
    "DiffusionBusy",
    "DiffusionFailed",
    "DiffusionJob",
    "Marks",
    "OnProgress",
    "Picture",
    "PipelineInfo",
]

Output = Literal["image", "video"]


class DiffusionFailed(Exception):
    """The engine could not generate (its process died, the pipeline raised, a worker
    answered with an error)."""


class DiffusionBusy(Exception):
    """The engine's queue is full."""


@dataclass(frozen=True)
class Marks:
    """How generated media is labelled as AI-generated (docs/images.md, "Watermarks")."""

    visible: str | None = None
    """Text drawn in the bottom-right corner (None: no visible mark)."""
    metadata: tuple[tuple[str, str], ...] = ()
    """Key-value pairs written into the file (PNG text chunks, MP4 metadata)."""


@dataclass(frozen=True)
class DiffusionJob:
    prompt: str
    width: int
    height: int
    steps: int
    seed: int
    count: int = 1
    """Images to generate from the prompt (a video job makes one clip)."""
    guidance: float | None = None
    """Classifier-free guidance scale (None: the pipeline's default)."""
    marks: Marks = field(default_factory=Marks)
    fps: int = 8
    """Video: frames per second of the encoded clip."""
    duration: float = 0.0
    """Video: seconds of the encoded clip (0: the generated frames at ``fps``)."""
    frames: int | None = None
    """Video: frames the pipeline generates (None: the pipeline's default)."""
    image: ImageInput | None = None
    """The image an image-to-video pipeline starts from."""


@dataclass(frozen=True)
class Picture:
    png: bytes
    width: int
    height: int


@dataclass(frozen=True)
class Clip:
    mp4: bytes
    cover_png: bytes
    frames: int
    """Frames in the encoded clip."""


@dataclass(frozen=True)
class PipelineInfo:
    """What a diffusers folder is, from its model_index.json."""

    class_name: str
    output: Output
    takes_image: bool = False
    """The pipeline starts from an image (image-to-video)."""


OnProgress = Callable[[int, int], None]
"""Called with (steps done, steps in all) as a generation advances."""
