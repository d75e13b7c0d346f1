"""Generated pixels to files: PNG images and H.264 MP4 clips, with the AI-generated
marks (a visible label and metadata; docs/images.md, "Watermarks")."""

from __future__ import annotations

import io
from collections.abc import Sequence

import av
from PIL import Image, ImageDraw, ImageFont, PngImagePlugin

from glmserve.engine.diffusion.types import Clip, Marks, Picture

__all__ = ["encode_clip", "encode_picture", "mark", "resample"]


def mark(image: Image.Image, marks: Marks) -> Image.Image:
    """The image with the visible label drawn in its bottom-right corner, on a dark
    band so it reads on any background."""
    if not marks.visible:
        return image
    out = image.convert("RGB")
    draw = ImageDraw.Draw(out, "RGBA")
    size = max(10, min(out.width, out.height) // 28)
    font = ImageFont.load_default(size=size)
    left, top, right, bottom = draw.textbbox((0, 0), marks.visible, font=font)
    pad = max(2, size // 3)
    x = out.width - (right - left) - 2 * pad
    y = out.height - (bottom - top) - 2 * pad
    draw.rectangle((x, y, out.width, out.height), fill=(0, 0, 0, 140))
    draw.text((x + pad - left, y + pad - top), marks.visible, font=font, fill=(255, 255, 255, 230))
    return out


def encode_picture(image: Image.Image, marks: Marks) -> Picture:
    marked = mark(image, marks)
    info = PngImagePlugin.PngInfo()
    for key, value in marks.metadata:
        info.add_itxt(key, value)
    buffer = io.BytesIO()
    marked.save(buffer, format="PNG", pnginfo=info)
    return Picture(buffer.getvalue(), marked.width, marked.height)


def resample(frames: Sequence[Image.Image], fps: int, duration: float) -> list[Image.Image]:
    """The frames stretched (each shown for the same share) to ``duration`` seconds at
    ``fps``; all of them once when ``duration`` is 0."""
    if duration <= 0 or not frames:
        return list(frames)
    count = max(1, round(fps * duration))
    return [frames[i * len(frames) // count] for i in range(count)]


def encode_clip(frames: Sequence[Image.Image], fps: int, duration: float, marks: Marks) -> Clip:
    """An H.264 MP4 (yuv420p, so browsers play it) and a PNG of its first frame."""
    shown = [mark(f, marks) for f in resample(frames, fps, duration)]
    width, height = shown[0].width // 2 * 2, shown[0].height // 2 * 2  # 4:2:0 needs even sizes
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        for key, value in marks.metadata:
            container.metadata[key] = value
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for image in shown:
            frame = av.VideoFrame.from_image(image.crop((0, 0, width, height)))  # type: ignore[no-untyped-call]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    cover = encode_picture(shown[0], Marks(None, marks.metadata))
    return Clip(buffer.getvalue(), cover.png, len(shown))
