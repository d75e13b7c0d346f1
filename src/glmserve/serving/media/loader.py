"""Media in chat requests: fetched, decoded, bounded, and turned into the engine's images.

Every non-text content part of a request becomes one or more images: ``image_url`` one
(an http(s) URL, a ``data:`` URL, or the bare base64 that zai-sdk sends after removing
the data-URL prefix, docs/api.md "Vision"), ``video_url`` its sampled frames,
``file_url`` a PDF's pages. Each bad input is a clear 1214 naming the part; more images
than ``[media] max_images`` is a 1210. Decoding uses Pillow (video: PyAV; PDF: pypdfium2).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from dataclasses import dataclass

from glmserve.config.media import MediaSettings
from glmserve.engine.media import MEDIA_MARKER, ImageInput
from glmserve.errors import InvalidField, InvalidRequest
from glmserve.protocol.chat import (
    FileUrlPart,
    ImageUrlPart,
    MediaPart,
    Message,
    VideoUrlPart,
    media_parts,
)
from glmserve.serving.media.fetch import Fetcher, FetchError, FetchPolicy

__all__ = ["LoadedMedia", "MediaLoader", "fetches_media"]

_IMAGE_FORMATS = {"JPEG", "PNG", "GIF", "WEBP", "BMP"}


@dataclass(frozen=True)
class LoadedMedia:
    images: tuple[ImageInput, ...]
    texts: tuple[str, ...]
    """What stands for each media part in the prompt: one marker per image."""
    video: tuple[bool, ...]
    """Whether each image is a video frame (its tokens count as video tokens)."""

    @property
    def video_frames(self) -> int:
        return sum(self.video)


def fetches_media(messages: list[Message]) -> bool:
    """Whether preparing these messages fetches a URL (waits on another server)."""
    for _, part in media_parts(messages):
        url = _url_of(part)
        if url is not None and url.strip().startswith(("http://", "https://")):
            return True
    return False


def _url_of(part: MediaPart) -> str | None:
    if isinstance(part, ImageUrlPart):
        return part.image_url.url
    if isinstance(part, VideoUrlPart):
        return part.video_url.url
    if isinstance(part, FileUrlPart):
        return part.file_url.url
    return None


class MediaLoader:
    def __init__(self, settings: MediaSettings) -> None:
        self._settings = settings
        self._fetcher = Fetcher()

    def close(self) -> None:
        self._fetcher.close()

    def load(self, messages: list[Message]) -> LoadedMedia | None:
        """The request's images, in prompt order; None if it has no media."""
        parts = media_parts(messages)
        if not parts:
            return None
        images: list[ImageInput] = []
        texts: list[str] = []
        video: list[bool] = []
        for where, part in parts:
            got = self._part(where, part)
            images += got
            texts.append(MEDIA_MARKER * len(got))
            video += [isinstance(part, VideoUrlPart)] * len(got)
            if len(images) > self._settings.max_images:
                raise InvalidRequest(
                    f"The request holds more than {self._settings.max_images} images "
                    "(video frames and document pages included)."
                )
            if sum(i.width * i.height for i in images) > self._settings.max_total_pixels:
                raise InvalidRequest(
                    f"The request's images hold more than {self._settings.max_total_pixels} "
                    "pixels in all."
                )
        return LoadedMedia(tuple(images), tuple(texts), tuple(video))

    def _part(self, where: str, part: MediaPart) -> list[ImageInput]:
        s = self._settings
        if isinstance(part, ImageUrlPart):
            field = f"{where}.image_url.url"
            data = self._bytes(field, part.image_url.url, ("image/",), s.max_image_bytes)
            return [self._image(field, data)]
        if isinstance(part, VideoUrlPart):
            field = f"{where}.video_url.url"
            data = self._bytes(field, part.video_url.url, ("video/",), s.max_video_bytes)
            return [self._checked(field, f) for f in _decode(field, "video", data, s)]
        if isinstance(part, FileUrlPart):
            field = f"{where}.file_url.url"
            data = self._bytes(field, part.file_url.url, ("application/pdf",), s.max_document_bytes)
            return [self._checked(field, p) for p in _decode(field, "pdf", data, s)]
        raise InvalidField(where, f"{part.type} content parts are not supported.")

    def _bytes(self, field: str, url: str, accept: tuple[str, ...], cap: int) -> bytes:
        url = url.strip()
        if url.startswith(("http://", "https://")):
            s = self._settings
            policy = FetchPolicy(
                s.fetch_timeout_seconds, cap, s.max_redirects, s.allow_private_urls
            )
            try:
                return self._fetcher.fetch(url, policy, accept).data
            except FetchError as exc:
                raise InvalidField(field, f"the URL could not be fetched: {exc}.") from None
        if url.startswith("data:"):
            header, sep, payload = url[5:].partition(",")
            media_type = header.split(";")[0].strip().lower()
            if not sep or ";base64" not in header:
                raise InvalidField(field, "a data URL must be data:<type>;base64,<data>.")
            if not any(media_type.startswith(a) for a in accept):
                raise InvalidField(field, f"the data URL's type is {media_type or 'missing'}.")
            url = payload
        data = _base64(field, url)
        if len(data) > cap:
            raise InvalidField(field, f"it is larger than {cap} bytes.")
        return data

    def _image(self, field: str, data: bytes) -> ImageInput:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in _IMAGE_FORMATS:
                    raise InvalidField(field, f"{image.format} images are not supported.")
                self._check_pixels(field, image.width, image.height)
                rgb = image.convert("RGB")
                return ImageInput(rgb.width, rgb.height, rgb.tobytes())
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            raise InvalidField(
                field, "it is not an image that can be decoded (JPEG, PNG, GIF, WEBP or BMP)."
            ) from None

    def _checked(self, field: str, image: ImageInput) -> ImageInput:
        self._check_pixels(field, image.width, image.height)
        return image

    def _check_pixels(self, field: str, width: int, height: int) -> None:
        cap = self._settings.max_image_pixels
        if width * height > cap:
            raise InvalidField(field, f"the image has {width}x{height} pixels, more than {cap}.")


def _base64(field: str, text: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidField(
            field, "it is neither an http(s) URL nor valid base64 (or a base64 data URL)."
        ) from None


Decoder = Callable[[bytes, MediaSettings], list[ImageInput]]


def _decode(field: str, kind: str, data: bytes, settings: MediaSettings) -> list[ImageInput]:
    try:
        return _decoder(field, kind)(data, settings)
    except ValueError as exc:
        raise InvalidField(field, f"{exc}.") from None


def _decoder(field: str, kind: str) -> Decoder:
    """The video or PDF decoder; a clear 1214 when its package is not installed."""
    try:
        if kind == "video":
            from glmserve.serving.media.video import decode_video

            return decode_video
        from glmserve.serving.media.documents import decode_pdf

        return decode_pdf
    except ImportError as exc:
        raise InvalidField(
            field, f"this server cannot decode {kind} ({exc.name} is missing)."
        ) from None
