"""Wire types of image and video generation (docs/images.md): ``POST /images/generations``
(and its async twin) and ``POST /videos/generations``, read into checked values with
Z.AI's errors, and the response bodies.

The zai-sdk sends every argument it was not given as ``null``; a null field is an
absent one. A field glmserve does not apply is refused (1214) rather than ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from glmserve.errors import GlmServeError, InvalidField, MissingField

__all__ = [
    "ImageRequest",
    "ImagesBody",
    "MAX_PROMPT_CHARS",
    "VideoRequest",
    "VideosBody",
    "parse_image_request",
    "parse_size",
    "parse_video_request",
]

MAX_PROMPT_CHARS = 4000
"""The longest prompt taken, in characters (glmserve's limit; docs/images.md)."""
MAX_SEED = 2**32 - 1

_IMAGE_FIELDS = {
    "model", "prompt", "n", "quality", "response_format", "size", "style",
    "sensitive_word_check", "user", "user_id", "request_id", "watermark_enabled", "seed",
}  # fmt: skip
_VIDEO_FIELDS = {
    "model", "prompt", "image_url", "quality", "with_audio", "size", "duration", "fps",
    "style", "aspect_ratio", "off_peak", "movement_amplitude", "sensitive_word_check",
    "request_id", "user_id", "watermark_enabled", "seed",
}  # fmt: skip
_NOT_APPLIED = ("style", "sensitive_word_check", "aspect_ratio", "off_peak", "movement_amplitude")


@dataclass(frozen=True)
class ImageRequest:
    model: str
    prompt: str
    n: int
    quality: str | None
    size: str | None
    response_format: Literal["url", "b64_json"]
    watermark: bool
    seed: int | None
    user_id: str | None
    request_id: str | None


@dataclass(frozen=True)
class VideoRequest:
    model: str
    prompt: str
    image_url: str | None
    quality: str | None
    size: str | None
    fps: int | None
    duration: int | None
    watermark: bool
    seed: int | None
    user_id: str | None
    request_id: str | None


class ImagesBody(BaseModel):
    """The body of ``POST /images/generations`` as the OpenAPI document describes it;
    ``parse_image_request`` is what checks a body."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    n: int | None = Field(default=None, ge=1, le=16)
    quality: str | None = None
    size: str | None = Field(default=None, pattern=r"^[0-9]{2,5}x[0-9]{2,5}$")
    response_format: Literal["url", "b64_json"] | None = None
    watermark_enabled: bool | None = None
    user_id: str | None = None
    user: str | None = None
    request_id: str | None = None
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


class VideosBody(BaseModel):
    """The body of ``POST /videos/generations``; checked by ``parse_video_request``."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(min_length=1)
    prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    image_url: str | None = None
    quality: str | None = None
    size: str | None = Field(default=None, pattern=r"^[0-9]{2,5}x[0-9]{2,5}$")
    fps: int | None = None
    duration: int | None = None
    with_audio: bool | None = None
    watermark_enabled: bool | None = None
    user_id: str | None = None
    request_id: str | None = None
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)


def parse_image_request(raw: Mapping[str, Any]) -> ImageRequest:
    """Check an image generation body; raise a typed Z.AI error on any problem."""
    body = _present(raw, _IMAGE_FIELDS)
    response_format = body.get("response_format", "url")
    if response_format not in ("url", "b64_json"):
        raise InvalidField("response_format", "must be 'url' or 'b64_json'")
    user = _text(body, "user_id") or _text(body, "user")
    return ImageRequest(
        model=_model(body),
        prompt=_prompt(body, required=True),
        n=_whole(body, "n", 1, 16) or 1,
        quality=_text(body, "quality"),
        size=_text(body, "size"),
        response_format=response_format,
        watermark=_flag(body, "watermark_enabled", True),
        seed=_whole(body, "seed", 0, MAX_SEED),
        user_id=user,
        request_id=_text(body, "request_id"),
    )


def parse_video_request(raw: Mapping[str, Any]) -> VideoRequest:
    """Check a video generation body; raise a typed Z.AI error on any problem."""
    body = _present(raw, _VIDEO_FIELDS)
    if _flag(body, "with_audio", False):
        raise InvalidField("with_audio", "the video models served here generate no audio")
    image_url = body.get("image_url")
    if isinstance(image_url, dict):
        image_url = image_url.get("url")
    if image_url is not None and (not isinstance(image_url, str) or not image_url.strip()):
        raise InvalidField("image_url", "must be one image: a URL or base64 data")
    prompt = _prompt(body, required=image_url is None)
    return VideoRequest(
        model=_model(body),
        prompt=prompt,
        image_url=image_url,
        quality=_text(body, "quality"),
        size=_text(body, "size"),
        fps=_whole(body, "fps", 1, 240),
        duration=_whole(body, "duration", 1, 60),
        watermark=_flag(body, "watermark_enabled", True),
        seed=_whole(body, "seed", 0, MAX_SEED),
        user_id=_text(body, "user_id"),
        request_id=_text(body, "request_id"),
    )


def parse_size(size: str) -> tuple[int, int] | None:
    """``"1024x768"`` as (width, height); None when it is not that shape."""
    width, sep, height = size.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit() or len(width + height) > 10:
        return None
    return int(width), int(height)


def _present(raw: Mapping[str, Any], known: set[str]) -> dict[str, Any]:
    body = {k: v for k, v in raw.items() if v is not None}
    unknown = sorted(set(body) - known)
    if unknown:
        raise InvalidField(unknown[0], "is not a parameter of this API")
    for name in _NOT_APPLIED:
        if name in body:
            raise InvalidField(name, "is not supported by the models served here")
    return body


def _model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if model is None:
        raise MissingField("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidField("model", "must be a model code")
    return model


def _prompt(body: Mapping[str, Any], *, required: bool) -> str:
    prompt = body.get("prompt")
    if prompt is None:
        if required:
            raise MissingField("prompt")
        return ""
    if not isinstance(prompt, str) or not prompt.strip():
        raise InvalidField("prompt", "must be a non-empty string")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise GlmServeError(
            f"prompt has {len(prompt)} characters; at most {MAX_PROMPT_CHARS} are taken.",
            code="1261",
            status=400,
        )
    return prompt


def _text(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidField(name, "must be a non-empty string")
    return value


def _whole(body: Mapping[str, Any], name: str, low: int, high: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidField(name, f"must be a whole number from {low} to {high}")
    return value


def _flag(body: Mapping[str, Any], name: str, default: bool) -> bool:
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise InvalidField(name, "must be true or false")
    return value
