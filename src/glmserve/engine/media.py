"""Images as the engine takes them: decoded pixels, a digest, and where they sit in a prompt.

The serving layer fetches and decodes media (serving/media/loader.py) and renders the prompt
with one ``MEDIA_MARKER`` where each image goes; an engine that can see (a projector is
loaded) tokenizes that prompt into text tokens and image spans. In the token list an
image's positions hold a negative placeholder derived from its digest, so the prefix
cache (slots.py) compares images by their bytes like any other token: the same image
reuses a cached prefix, another image ends it (docs/architecture.md, "Images").
"""

from __future__ import annotations

import bisect
import hashlib
from dataclasses import dataclass, field

__all__ = [
    "MEDIA_MARKER",
    "ImageInput",
    "ImageSpan",
    "MediaPrompt",
    "MediaTokens",
    "image_placeholder",
]

MEDIA_MARKER = "<__glmserve_media__>"
"""Where an image goes in a rendered prompt (given to libmtmd as its media marker; a
name of our own, so that text mentioning llama.cpp's default ``<__media__>`` is text)."""


@dataclass(frozen=True)
class ImageInput:
    """One decoded image: RGB pixels, row by row, 3 bytes a pixel."""

    width: int
    height: int
    rgb: bytes = field(repr=False)
    digest: str = ""
    """SHA-256 of the size and pixels; filled in when not given."""

    def __post_init__(self) -> None:
        if len(self.rgb) != self.width * self.height * 3:
            raise ValueError("rgb must hold width x height x 3 bytes")
        if not self.digest:
            h = hashlib.sha256(f"{self.width}x{self.height}:".encode())
            h.update(self.rgb)
            object.__setattr__(self, "digest", h.hexdigest())


@dataclass(frozen=True)
class MediaPrompt:
    """A rendered prompt with one ``MEDIA_MARKER`` per image, and the images in order."""

    text: str
    images: tuple[ImageInput, ...]
    video_frames: int = 0
    """How many of ``images`` are video frames (they are counted as video tokens)."""


def image_placeholder(digest: str) -> int:
    """The (negative) token that stands for every position of an image in a token list."""
    return -1 - int(digest[:15], 16)


@dataclass(frozen=True)
class ImageSpan:
    start: int
    length: int
    image: int
    """Index into ``MediaPrompt.images``."""
    positions: int = -1
    """Positions the image takes: its token count, except with M-RoPE (Qwen2-VL,
    GLM-4.xV), where an image of w x h tokens takes max(w, h) positions."""

    def __post_init__(self) -> None:
        if self.positions < 0:
            object.__setattr__(self, "positions", self.length)

    @property
    def end(self) -> int:
        return self.start + self.length


@dataclass(frozen=True)
class MediaTokens:
    """A media prompt tokenized: text tokens with placeholders where images go."""

    tokens: list[int]
    spans: tuple[ImageSpan, ...]

    @property
    def image_tokens(self) -> int:
        return sum(span.length for span in self.spans)

    def text_end(self, start: int, end: int) -> int:
        """Where a chunk of text tokens from ``start`` must end (at most ``end``): before
        the next image; ``start`` itself when an image begins there."""
        starts = [span.start for span in self.spans]
        i = bisect.bisect_left(starts, start)
        return min(end, starts[i]) if i < len(starts) else end

    def span_at(self, index: int) -> ImageSpan | None:
        """The image whose span holds token ``index``, if any."""
        for span in self.spans:
            if span.start <= index < span.end:
                return span
        return None

    def shift(self, index: int) -> int:
        """How far token ``index``'s position is below ``index``: what the images
        before it take in tokens beyond their positions (0 without M-RoPE)."""
        return sum(s.length - s.positions for s in self.spans if s.end <= index)
