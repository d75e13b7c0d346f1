"""Media input settings: how images, video and documents in chat are fetched and bounded.

``[media]`` in the config file (docs/configuration.md, "Media input"). The defaults
follow Z.AI's documented limits where the docs give one (10 MB an image, 50 MB and 100
pages a PDF: the GLM-OCR model page) and are glmserve's choice elsewhere (said so in
docs/configuration.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MediaFile", "MediaSettings"]

MB = 1024 * 1024


@dataclass(frozen=True)
class MediaSettings:
    allow_private_urls: bool = False
    """Fetch URLs whose host resolves to loopback, private, link-local or other
    non-public addresses (off: the server must not be a proxy into its own network)."""
    fetch_timeout_seconds: float = 10.0
    max_redirects: int = 3
    max_image_bytes: int = 10 * MB
    max_image_pixels: int = 6000 * 6000
    max_images: int = 50
    """Images in one request, video frames and document pages included."""
    max_total_pixels: int = 64_000_000
    """Pixels of all the images of one request (their RGB is held in memory and sent
    to the engine process: 3 bytes a pixel)."""
    max_video_bytes: int = 50 * MB
    video_fps: float = 1.0
    """Frames sampled per second of video."""
    max_video_frames: int = 16
    max_document_bytes: int = 50 * MB
    max_document_pages: int = 100
    document_dpi: int = 96
    """Resolution PDF pages are rendered at."""


class MediaFile(BaseModel):
    """``[media]``: see MediaSettings."""

    model_config = ConfigDict(extra="forbid", strict=True)

    allow_private_urls: bool = False
    fetch_timeout_seconds: float = Field(default=10.0, gt=0, le=600)
    max_redirects: int = Field(default=3, ge=0, le=20)
    max_image_bytes: int = Field(default=10 * MB, ge=1)
    max_image_pixels: int = Field(default=6000 * 6000, ge=1)
    max_images: int = Field(default=50, ge=1, le=10000)
    max_total_pixels: int = Field(default=64_000_000, ge=1)
    max_video_bytes: int = Field(default=50 * MB, ge=1)
    video_fps: float = Field(default=1.0, gt=0, le=60)
    max_video_frames: int = Field(default=16, ge=1, le=1000)
    max_document_bytes: int = Field(default=50 * MB, ge=1)
    max_document_pages: int = Field(default=100, ge=1, le=10000)
    document_dpi: int = Field(default=96, ge=18, le=600)

    def settings(self) -> MediaSettings:
        return MediaSettings(**self.model_dump())
