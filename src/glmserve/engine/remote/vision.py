"""Images for remote workers: how many tokens each takes, where they sit in the token
prompt, and how they travel (docs/architecture.md, "Images on remote workers").

The gateway counts an image's tokens itself, before anything is sent, with the model's
own image-processor rule read from the model folder's ``preprocessor_config.json``
(or ``processor_config.json``'s ``image_processor``, as transformers 5 saves it):
GLM-4.1V/4.5V/4.6V's ``Glm4vImageProcessor``. The image is resized to a multiple of
``patch_size * merge_size`` within the configured pixel bounds, cut into patches, and
every ``merge_size``² patches become one token. That count is what the tokenizer API and
the context check use; the worker's own count of the expanded prompt, reported with the
first event, is the usage.

In the token prompt each image is one image block, ``<|begin_of_image|><|image|>
<|end_of_image|>`` (GLM-V's chat templates write the same): the gateway's token list
holds the image's placeholders (engine/media.py) where ``<|image|>`` stands, and the
worker is sent the single ``<|image|>`` token with the image itself; the worker's own
processor expands it into the image's tokens.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from glmserve.engine.media import (
    MEDIA_MARKER,
    ImageInput,
    ImageSpan,
    MediaPrompt,
    MediaTokens,
    image_placeholder,
)
from glmserve.engine.remote.tokenizer import read_json

__all__ = ["ImageRule", "RemoteVision", "WireMedia", "load_vision", "png_data_url"]

_PROCESSOR = "Glm4vImageProcessor"  # and its Fast / Pil variants
IMAGE_BLOCK = ("<|begin_of_image|>", "<|image|>", "<|end_of_image|>")


@dataclass(frozen=True)
class ImageRule:
    """The image processor's resize and patching (its preprocessor_config.json)."""

    patch_size: int = 14
    merge_size: int = 2
    temporal_patch_size: int = 2
    min_pixels: int = 112 * 112
    max_pixels: int = 28 * 28 * 15000

    def __post_init__(self) -> None:
        sizes = (self.patch_size, self.merge_size, self.temporal_patch_size)
        if any(not isinstance(v, int) or v < 1 for v in sizes):
            raise ValueError("patch_size, merge_size and temporal_patch_size must be positive")
        if not 0 < self.min_pixels <= self.max_pixels:
            raise ValueError("the pixel bounds must be positive, min at most max")

    def size(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) the processor resizes an image to."""
        factor = self.patch_size * self.merge_size
        frames = self.temporal_patch_size  # a still image is repeated to fill a patch
        h, w = height, width
        if h < factor or w < factor:
            scale = max(factor / h, factor / w)
            h, w = int(h * scale), int(w * scale)
        if max(h, w) / min(h, w) > 200:
            raise ValueError(f"an image of {width} x {height} pixels is too narrow (over 200:1)")
        h_bar = round(h / factor) * factor
        w_bar = round(w / factor) * factor
        t_bar = round(frames / self.temporal_patch_size) * self.temporal_patch_size
        if t_bar * h_bar * w_bar > self.max_pixels:
            beta = math.sqrt(frames * h * w / self.max_pixels)
            h_bar = max(factor, math.floor(h / beta / factor) * factor)
            w_bar = max(factor, math.floor(w / beta / factor) * factor)
        elif t_bar * h_bar * w_bar < self.min_pixels:
            beta = math.sqrt(self.min_pixels / (frames * h * w))
            h_bar = math.ceil(h * beta / factor) * factor
            w_bar = math.ceil(w * beta / factor) * factor
        return w_bar, h_bar

    def tokens(self, width: int, height: int) -> int:
        """The tokens an image of this size takes in the prompt."""
        w, h = self.size(width, height)
        return (w // self.patch_size) * (h // self.patch_size) // self.merge_size**2


def _rule(config: dict[str, Any], where: Path) -> ImageRule:
    kind = config.get("image_processor_type")
    if not (isinstance(kind, str) and kind.startswith(_PROCESSOR)):
        raise ValueError(
            f"{where}: image_processor_type {kind!r} is not one glmserve counts the image "
            f"tokens of ({_PROCESSOR})"
        )
    given = config.get("size")
    size: dict[str, Any] = given if isinstance(given, dict) else {}
    values: dict[str, Any] = {
        "patch_size": config.get("patch_size"),
        "merge_size": config.get("merge_size"),
        "temporal_patch_size": config.get("temporal_patch_size"),
        "min_pixels": size.get("shortest_edge", config.get("min_pixels")),
        "max_pixels": size.get("longest_edge", config.get("max_pixels")),
    }
    try:
        return ImageRule(**{k: v for k, v in values.items() if v is not None})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{where}: {exc}") from None


@dataclass(frozen=True)
class WireMedia:
    """A media request as a worker takes it: the token prompt with one image token per
    image, and the images as PNG ``data:`` URLs, in prompt order."""

    token_ids: list[int]
    images: tuple[str, ...]


class RemoteVision:
    """The model's image tokens and its processor rule."""

    def __init__(self, rule: ImageRule, begin: int, image: int, end: int) -> None:
        self.rule = rule
        self.begin, self.image, self.end = begin, image, end

    def tokenize(self, prompt: MediaPrompt, encode: Callable[[str], list[int]]) -> MediaTokens:
        """``encode``: the gateway tokenizer's ``encode``. Each marker becomes an image
        block whose ``<|image|>`` is replaced by the image's placeholders."""
        if prompt.text.count(MEDIA_MARKER) != len(prompt.images):
            raise ValueError("the prompt's media markers and its images do not match")
        block = "".join(IMAGE_BLOCK)
        ids = encode(prompt.text.replace(MEDIA_MARKER, block))
        tokens: list[int] = []
        spans: list[ImageSpan] = []
        for token in ids:
            if token != self.image:
                tokens.append(token)
                continue
            if len(spans) == len(prompt.images):
                raise ValueError("the prompt holds more image tokens than images")
            image = prompt.images[len(spans)]
            length = self.rule.tokens(image.width, image.height)
            spans.append(ImageSpan(len(tokens), length, len(spans)))
            tokens.extend([image_placeholder(image.digest)] * length)
        if len(spans) != len(prompt.images):
            raise ValueError("the prompt's image tokens and its images do not match")
        return MediaTokens(tokens, tuple(spans))

    def wire(self, tokens: Sequence[int], prompt: MediaPrompt) -> WireMedia:
        """What the worker is sent: each run of an image's placeholders becomes the one
        image token it was, the images PNG-encoded (lossless: the worker sees the
        pixels the gateway decoded and counted)."""
        out: list[int] = []
        previous = 0
        for token in tokens:
            if token >= 0:
                out.append(token)
            elif token != previous:
                out.append(self.image)
            previous = token
        return WireMedia(out, tuple(png_data_url(image) for image in prompt.images))


def png_data_url(image: ImageInput) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.frombytes("RGB", (image.width, image.height), image.rgb).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def load_vision(folder: Path, token_id: Callable[[str], int | None]) -> RemoteVision:
    """The vision of the model in ``folder`` (its preprocessor_config.json and image
    tokens; ``token_id``: the gateway tokenizer's token-to-id lookup). ValueError with
    the reason when the folder does not describe a model glmserve can send images to."""
    source = folder / "preprocessor_config.json"
    if source.is_file():
        config = read_json(source)
    elif (folder / "processor_config.json").is_file():
        source = folder / "processor_config.json"
        inner = read_json(source).get("image_processor")
        if not isinstance(inner, dict):
            raise ValueError(f"{source}: no image_processor")
        config = inner
    else:
        raise ValueError(f"{folder}: no preprocessor_config.json (the model's image processor)")
    ids = {name: token_id(name) for name in IMAGE_BLOCK}
    missing = [name for name, i in ids.items() if i is None]
    if missing:
        raise ValueError(f"{folder}: the tokenizer has no {', '.join(missing)} token")
    begin, image, end = (i for i in ids.values() if i is not None)
    return RemoteVision(_rule(config, source), begin, image, end)
