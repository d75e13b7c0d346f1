"""Video frames for vision models: sampled with PyAV at ``[media] video_fps`` frames a
second, at most ``max_video_frames`` (evenly spread over the video when it is longer).

Frames are sampled while the video decodes: only the sampled ones are converted and
kept, never every frame (docs/limits.md, "Media"). A frame larger than
``max_image_pixels`` is refused before any is kept, and the kept frames stop at
``max_total_pixels`` in all.
"""

from __future__ import annotations

import io
from typing import Any

import av

from glmserve.config.media import MediaSettings
from glmserve.engine.media import ImageInput

__all__ = ["decode_video"]


def decode_video(data: bytes, settings: MediaSettings) -> list[ImageInput]:
    """The sampled frames as RGB images. Raises ValueError for data PyAV cannot decode
    or frames beyond the limits."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            _check_frame(stream.codec_context.width, stream.codec_context.height, settings)
            picked = _sample(container, stream, settings)
    except ValueError:
        raise
    except Exception as exc:  # PyAV's errors: FFmpeg could not read it
        raise ValueError(f"the video cannot be decoded ({type(exc).__name__})") from None
    if not picked:
        raise ValueError("the video has no frames")
    cap = settings.max_video_frames
    if len(picked) > cap:
        picked = [picked[round(k * (len(picked) - 1) / max(cap - 1, 1))] for k in range(cap)]
    return picked


def _sample(container: Any, stream: Any, settings: MediaSettings) -> list[ImageInput]:
    """Frames at least ``step`` seconds apart, converted as they are picked. Where the
    duration is known the step spreads ``max_video_frames`` over it; where it is not,
    the kept frames are thinned (every other one, the step doubled) whenever they
    reach twice the cap, so at most that many are ever held."""
    cap = settings.max_video_frames
    step = 1.0 / settings.video_fps
    duration = _duration(container, stream)
    if duration is not None and cap > 1:
        step = max(step, duration / (cap - 1) * 0.999)
    picked: list[ImageInput] = []
    times: list[float] = []
    pixels = 0
    next_time: float | None = None
    for frame in container.decode(stream):
        time = float(frame.time or 0.0)
        if next_time is not None and time + 1e-6 < next_time:
            continue
        _check_frame(frame.width, frame.height, settings)
        pixels += frame.width * frame.height
        if pixels > settings.max_total_pixels:
            raise ValueError(
                f"its sampled frames hold more than {settings.max_total_pixels} pixels in all"
            )
        picked.append(_rgb(frame))
        times.append(time)
        next_time = time + step
        if len(picked) >= 2 * cap:
            picked, times = picked[::2], times[::2]
            pixels = sum(p.width * p.height for p in picked)
            step *= 2
            next_time = times[-1] + step
    return picked


def _duration(container: Any, stream: Any) -> float | None:
    """The video's length in seconds, if its container says."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return float(container.duration) / av.time_base
    return None


def _check_frame(width: int, height: int, settings: MediaSettings) -> None:
    cap = settings.max_image_pixels
    if width * height > cap:
        raise ValueError(f"its frames have {width}x{height} pixels, more than {cap}")


def _rgb(frame: Any) -> ImageInput:
    image = frame.to_image().convert("RGB")
    return ImageInput(image.width, image.height, image.tobytes())
