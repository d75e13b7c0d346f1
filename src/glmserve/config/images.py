"""Settings of image and video generation (TOML ``[images]``; docs/images.md).

[images]
url_ttl_hours = 720            # result URLs expire (Z.AI: 30 days), files purged after
signed_urls = true             # URLs carry an expiring signature (false: the key's only)
watermark_text = "AI generated"

[[images.models]]              # a diffusers folder, on this machine
code = "cogview-4"
path = "/models/CogView4-6B"
device = "cuda"                # default "cpu"
dtype = "bfloat16"             # default "float32"
steps = 50                     # denoising steps for quality "hd" / "quality"
fast_steps = 25                # ... for "standard" / "speed"

[[images.models]]              # or workers speaking OpenAI's /v1/images/generations
code = "glm-image"
engine = "remote"
[[images.models.workers]]
url = "http://10.0.0.21:8091"
kind = "openai-images"         # vLLM-Omni, SGLang diffusion
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "ImageModelConfig",
    "ImageSettings",
    "ImageWorkerConfig",
    "ImagesFile",
    "image_settings",
]


@dataclass(frozen=True)
class ImageWorkerConfig:
    url: str
    model: str | None = None
    """The model name the worker serves (None: the code)."""
    api_key: str | None = None


@dataclass(frozen=True)
class ImageModelConfig:
    code: str
    engine: Literal["diffusers", "remote"]
    path: Path | None = None
    device: str = "cpu"
    dtype: str = "float32"
    threads: int = 0
    steps: int = 50
    fast_steps: int = 25
    guidance: float | None = None
    frames: int | None = None
    """Video: frames the pipeline generates (None: its default)."""
    max_n: int = 1
    queue_limit: int = 16
    output: Literal["image", "video"] | None = None
    """What a remote model makes (a diffusers folder says so itself)."""
    workers: tuple[ImageWorkerConfig, ...] = ()
    aliases: tuple[str, ...] = ()
    price: float | None = None
    """USD per image or video, over the catalog's."""

    @property
    def codes(self) -> tuple[str, ...]:
        return (self.code, *self.aliases)


@dataclass(frozen=True)
class ImageSettings:
    models: tuple[ImageModelConfig, ...] = ()
    url_ttl_seconds: int = 30 * 24 * 3600
    signed_urls: bool = True
    watermark_text: str = "AI generated"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _WorkerFile(_Strict):
    url: str
    kind: Literal["openai-images"]
    model: str | None = Field(default=None, min_length=1)
    api_key: str | None = Field(default=None, min_length=1)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^/\s:?#]+(:[0-9]{1,5})?(/[^\s?#]*)?", value):
            raise ValueError("must be http(s)://host[:port][/path], e.g. 'http://10.0.0.21:8091'")
        return value.rstrip("/")


class _ModelFile(_Strict):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$")
    engine: Literal["diffusers", "remote"] = "diffusers"
    path: str | None = None
    device: str = Field(default="cpu", pattern=r"^(cpu|cuda(:[0-9]+)?|mps)$")
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    threads: int | None = Field(default=None, ge=1, le=1024)
    steps: int = Field(default=50, ge=1, le=1000)
    fast_steps: int = Field(default=25, ge=1, le=1000)
    guidance: float | None = Field(default=None, ge=0, le=100)
    frames: int | None = Field(default=None, ge=1, le=1000)
    max_n: int = Field(default=1, ge=1, le=16)
    queue_limit: int = Field(default=16, ge=0, le=10000)
    output: Literal["image", "video"] | None = None
    workers: list[_WorkerFile] | None = None
    aliases: list[str] = Field(default_factory=list)
    price: float | None = Field(default=None, ge=0)


class ImagesFile(_Strict):
    """``[images]``: see ImageSettings and the module's docstring."""

    url_ttl_hours: float = Field(default=720, gt=0, le=24 * 3650)
    signed_urls: bool = True
    watermark_text: str = Field(default="AI generated", min_length=1, max_length=64)
    models: list[_ModelFile] = Field(default_factory=list)


def image_settings(
    section: ImagesFile, config_path: Path | None, threads: int, where: str
) -> ImageSettings:
    """The validated ``[images]`` section; raises ValueError naming the bad entry."""
    models: list[ImageModelConfig] = []
    for index, entry in enumerate(section.models):
        label = f"{where}: images.models[{index}] ({entry.code})"
        path: Path | None = None
        if entry.engine == "diffusers":
            if entry.path is None:
                raise ValueError(f"{label}: engine 'diffusers' needs path (a diffusers folder)")
            if entry.workers:
                raise ValueError(f"{label}: workers are for engine 'remote'")
            path = Path(entry.path).expanduser()
            if not path.is_absolute() and config_path is not None:
                path = config_path.parent / path
            if not (path / "model_index.json").is_file():
                raise ValueError(f"{label}: {path} is not a diffusers folder (no model_index.json)")
        elif not entry.workers:
            raise ValueError(f"{label}: engine 'remote' needs [[images.models.workers]]")
        elif entry.path is not None:
            raise ValueError(f"{label}: path is for engine 'diffusers'")
        elif entry.output == "video":
            raise ValueError(f"{label}: remote workers make images only (OpenAI's images API)")
        workers = tuple(
            ImageWorkerConfig(url=w.url, model=w.model, api_key=w.api_key)
            for w in entry.workers or ()
        )
        models.append(
            ImageModelConfig(
                code=entry.code,
                engine=entry.engine,
                path=path,
                device=entry.device,
                dtype=entry.dtype,
                threads=entry.threads or threads,
                steps=entry.steps,
                fast_steps=entry.fast_steps,
                guidance=entry.guidance,
                frames=entry.frames,
                max_n=entry.max_n,
                queue_limit=entry.queue_limit,
                output="image" if entry.engine == "remote" else None,
                workers=workers,
                aliases=tuple(entry.aliases),
                price=entry.price,
            )
        )
    codes = [code for m in models for code in m.codes]
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    if duplicates:
        raise ValueError(f"{where}: image model code(s) {', '.join(duplicates)} repeat")
    return ImageSettings(
        models=tuple(models),
        url_ttl_seconds=int(section.url_ttl_hours * 3600),
        signed_urls=section.signed_urls,
        watermark_text=section.watermark_text,
    )
