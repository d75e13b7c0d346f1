"""What a diffusers model folder holds: the pipeline its model_index.json names.

Read without torch or diffusers, so the server refuses a folder it cannot serve when it
starts, and a server that is never asked for an image never imports them."""

from __future__ import annotations

import json
from pathlib import Path

from glmserve.engine.diffusion.types import PipelineInfo

__all__ = ["KNOWN_PIPELINES", "pipeline_info"]

KNOWN_PIPELINES: dict[str, PipelineInfo] = {
    info.class_name: info
    for info in (
        PipelineInfo("CogView4Pipeline", "image"),
        PipelineInfo("CogView3PlusPipeline", "image"),
        PipelineInfo("GlmImagePipeline", "image"),
        PipelineInfo("CogVideoXPipeline", "video"),
        PipelineInfo("CogVideoXImageToVideoPipeline", "video", takes_image=True),
    )
}
"""The pipelines glmserve drives (docs/images.md): GLM's own image and video models."""


def pipeline_info(folder: Path) -> PipelineInfo:
    """The pipeline of a diffusers folder; raises ValueError when the folder is not one,
    or names a pipeline glmserve does not drive."""
    index = folder / "model_index.json"
    try:
        data = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{folder} has no model_index.json (not a diffusers folder)") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{index} cannot be read: {exc}") from None
    name = data.get("_class_name") if isinstance(data, dict) else None
    if not isinstance(name, str):
        raise ValueError(f"{index} names no pipeline (_class_name)")
    info = KNOWN_PIPELINES.get(name)
    if info is None:
        known = ", ".join(sorted(KNOWN_PIPELINES))
        raise ValueError(f"{index} names {name}; glmserve drives {known}")
    return info
