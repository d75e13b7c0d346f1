"""Video frames for vision models: sampled with PyAV at ``[media] video_fps`` frames a
second, at most ``max_video_frames`` (evenly spread over the video when it is longer)."""

from __future__ import annotations

import io

import av

from glmserve.config.media import MediaSettings
from glmserve.engine.media import ImageInput

__all__ = ["decode_video"]


def decode_video(data: bytes, settings: MediaSettings) -> list[ImageInput]:
    """The sampled frames as RGB images. Raises ValueError for data PyAV cannot decode."""
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            frames = [
                (float(frame.time or 0.0), frame.to_image().convert("RGB"))  # type: ignore[no-untyped-call]
                for frame in container.decode(stream)
            ]
    except ValueError:
        raise
    except Exception as exc:  # PyAV's errors: FFmpeg could not read it
        raise ValueError(f"the video cannot be decoded ({type(exc).__name__})") from None
    if not frames:
        raise ValueError("the video has no frames")
    picked: list[int] = []
    step = 1.0 / settings.video_fps
    next_time = frames[0][0]
    for i, (time, _) in enumerate(frames):
        if time + 1e-6 >= next_time:
            picked.append(i)
            next_time = time + step
    cap = settings.max_video_frames
    if len(picked) > cap:
        picked = [picked[round(k * (len(picked) - 1) / max(cap - 1, 1))] for k in range(cap)]
    return [_rgb(frames[i][1]) for i in picked]


def _rgb(image: object) -> ImageInput:
    from PIL import Image

    assert isinstance(image, Image.Image)
    return ImageInput(image.width, image.height, image.tobytes())
