"""A request checked against its model's catalog entry and configuration: the size,
quality (denoising steps), count, frame rate and duration the engine is given."""

from __future__ import annotations

import json
import secrets

from glmserve.catalog import MediaSpec
from glmserve.config.images import ImageModelConfig
from glmserve.engine.diffusion import Marks
from glmserve.errors import InvalidField
from glmserve.protocol.images import parse_size

__all__ = ["marks", "seed", "size", "steps", "timing", "count"]


def size(spec: MediaSpec, asked: str | None) -> tuple[int, int]:
    """(width, height) of ``size``: one the model lists, or one its rule allows."""
    text = asked or spec.default_size
    parsed = parse_size(text)
    if parsed is not None and text in spec.sizes:
        return parsed
    rule = spec.rule
    listed = ", ".join(spec.sizes)
    if rule is None:
        raise InvalidField("size", f"{spec.code} takes {listed}")
    allowed = (
        (f"{listed}, or " if listed else "")
        + f"WIDTHxHEIGHT with each side {rule.min_side}-{rule.max_side} and a multiple of "
        + (f"{rule.multiple}" + (f", at most {rule.max_pixels} pixels" if rule.max_pixels else ""))
    )
    if parsed is None:
        raise InvalidField("size", f"{text!r} is not WIDTHxHEIGHT; {spec.code} takes {allowed}")
    width, height = parsed
    fits = all(rule.min_side <= s <= rule.max_side and s % rule.multiple == 0 for s in parsed)
    if not fits or (rule.max_pixels is not None and width * height > rule.max_pixels):
        raise InvalidField("size", f"{spec.code} takes {allowed}; got {text}")
    return parsed


def steps(spec: MediaSpec, config: ImageModelConfig, quality: str | None) -> int:
    """Denoising steps for ``quality``: the fast one (``standard``, ``speed``) takes the
    config's ``fast_steps``, the other ``steps``."""
    chosen = quality or spec.default_quality
    if chosen not in spec.qualities:
        raise InvalidField("quality", f"{spec.code} takes {' or '.join(spec.qualities)}")
    return config.fast_steps if chosen == spec.qualities[0] else config.steps


def count(config: ImageModelConfig, code: str, n: int) -> int:
    if n > config.max_n:
        raise InvalidField("n", f"{code} makes at most {config.max_n} image(s) per request")
    return n


def timing(spec: MediaSpec, fps: int | None, duration: int | None) -> tuple[int, int]:
    """(fps, seconds) of a video: each one of the values the model documents."""
    chosen_fps = spec.fps[0] if fps is None else fps
    if chosen_fps not in spec.fps:
        raise InvalidField("fps", f"{spec.code} takes {' or '.join(map(str, spec.fps))}")
    seconds = spec.durations[0] if duration is None else duration
    if seconds not in spec.durations:
        choices = " or ".join(map(str, sorted(spec.durations)))
        raise InvalidField("duration", f"{spec.code} takes {choices} (seconds)")
    return chosen_fps, seconds


def seed(asked: int | None) -> int:
    return asked if asked is not None else secrets.randbits(32)


def marks(enabled: bool, text: str, record_id: str) -> Marks:
    """The AI-generated label of a result (docs/images.md, "Watermarks"): a visible
    text and an "AIGC" metadata entry naming the producer and the generation, or none
    when ``watermark_enabled`` is false."""
    if not enabled:
        return Marks()
    label = {"Label": "1", "ContentProducer": "glmserve", "ProduceID": record_id}
    return Marks(text, (("AIGC", json.dumps(label, separators=(",", ":"))),))
