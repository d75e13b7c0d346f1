"""Images in the embedded engine: llama.cpp's multimodal library (libmtmd) and a projector.

``VisionModel`` loads the projector GGUF (``mmproj``) beside the language model and
tokenizes a media prompt (text with one marker per image) into text tokens and image
spans; the number of tokens an image takes is llama.cpp's own. ``ImageFeeder`` runs in
the decode thread: before each step it encodes the image a sequence has reached and
decodes the embeddings into that sequence's KV stream, at the image's positions, in
batches of their own (a llama.cpp batch holds tokens or embeddings, not both). The
scheduler feeds the text around the images as usual (docs/architecture.md, "Images").

With M-RoPE projectors (Qwen2-VL, GLM-4.1V/4.5V/4.6V's ``glm4v``) an image of w x h
tokens takes max(w, h) positions; the text after it is placed that much lower
(``MediaTokens.shift``), and the image's 2-D positions are libmtmd's own
(``mtmd_helper_decode_image_chunk``).
"""

from __future__ import annotations

import ctypes
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import llama_cpp as C
from llama_cpp import mtmd_cpp as M

from glmserve.engine.llama.native import NativeContext, NativeModel, gpu_build
from glmserve.engine.media import (
    MEDIA_MARKER,
    ImageSpan,
    MediaPrompt,
    MediaTokens,
    image_placeholder,
)

__all__ = ["ImageFeeder", "VisionModel", "VisionError"]

log = logging.getLogger(__name__)

_TEXT_CHUNK = 0  # MTMD_INPUT_CHUNK_TYPE_TEXT
_quiet = False


class VisionError(ValueError):
    """The projector cannot be used, or a media prompt cannot be tokenized."""


def _silence() -> None:
    global _quiet  # process-wide native log routing, done once
    if not _quiet:
        from llama_cpp._logger import llama_log_callback

        M.mtmd_log_set(llama_log_callback, ctypes.c_void_p(0))
        M.mtmd_helper_log_set(llama_log_callback, ctypes.c_void_p(0))
        _quiet = True


class VisionModel:
    """A projector loaded for a language model (its weights or only its vocabulary)."""

    def __init__(self, mmproj: Path, model: NativeModel, *, threads: int) -> None:
        _silence()
        params = M.mtmd_context_params_default()
        params.use_gpu = gpu_build()
        params.n_threads = threads
        params.print_timings = False
        params.warmup = False
        params.media_marker = MEDIA_MARKER.encode()
        self._ctx = M.mtmd_init_from_file(str(mmproj).encode(), model.handle, params)
        if not self._ctx:
            raise VisionError(
                f"llama.cpp could not load the projector {mmproj} for this model "
                "(not a projector GGUF, or its embedding size differs from the model's)"
            )
        if not M.mtmd_support_vision(self._ctx):
            self.close()
            raise VisionError(f"the projector {mmproj} has no vision encoder")
        self.mrope = bool(M.mtmd_decode_use_mrope(self._ctx))
        self._model = model
        self._lock = threading.Lock()

    @property
    def handle(self) -> Any:
        return self._ctx

    def tokenize(self, prompt: MediaPrompt) -> MediaTokens:
        """Text tokens and image spans, as the engine feeds them."""
        tokens, _ = self._tokenize(prompt, keep=False)
        return tokens

    def chunks(self, prompt: MediaPrompt) -> tuple[MediaTokens, _Chunks]:
        """The tokenized prompt and libmtmd's chunks (their images, to encode)."""
        tokens, chunks = self._tokenize(prompt, keep=True)
        assert chunks is not None
        return tokens, chunks

    def _tokenize(self, prompt: MediaPrompt, *, keep: bool) -> tuple[MediaTokens, _Chunks | None]:
        if prompt.text.count(MEDIA_MARKER) != len(prompt.images):
            raise VisionError("the prompt's media markers and its images do not match")
        bitmaps = [
            _bitmap(image.width, image.height, image.rgb, image.digest) for image in prompt.images
        ]
        handles = (M.mtmd_bitmap_p_ctypes * max(len(bitmaps), 1))(*bitmaps)
        data = prompt.text.encode("utf-8")
        text = M.mtmd_input_text(
            text=data, text_len=len(data), add_special=False, parse_special=True
        )
        raw = M.mtmd_input_chunks_init()
        try:
            with self._lock:
                status = M.mtmd_tokenize(self._ctx, raw, ctypes.byref(text), handles, len(bitmaps))
            if status != 0:
                raise VisionError(f"llama.cpp could not tokenize the images (status {status})")
            chunks = _Chunks(raw)
            raw = None
            layout = self._layout(chunks)
            if keep:
                return layout, chunks
            chunks.free()
            return layout, None
        finally:
            for bitmap in bitmaps:
                M.mtmd_bitmap_free(bitmap)
            if raw is not None:
                M.mtmd_input_chunks_free(raw)

    def _layout(self, chunks: _Chunks) -> MediaTokens:
        tokens: list[int] = []
        spans: list[ImageSpan] = []
        model = self._model
        if model.add_bos:  # as NativeModel.tokenize: BOS once, if the model wants one
            tokens.append(model.bos)
        image = 0
        for index, chunk in enumerate(chunks):
            if M.mtmd_input_chunk_get_type(chunk) == _TEXT_CHUNK:
                n = ctypes.c_size_t()
                ptr = M.mtmd_input_chunk_get_tokens_text(chunk, ctypes.byref(n))
                tokens.extend(ptr[i] for i in range(n.value))
                continue
            length = M.mtmd_input_chunk_get_n_tokens(chunk)
            positions = M.mtmd_input_chunk_get_n_pos(chunk)
            digest = (M.mtmd_input_chunk_get_id(chunk) or b"").decode()
            spans.append(ImageSpan(len(tokens), length, image, positions))
            chunks.image_chunks.append(index)
            tokens.extend([image_placeholder(digest)] * length)
            image += 1
        if model.add_bos and len(tokens) > 1 and tokens[1] == model.bos:
            del tokens[0]  # the prompt wrote BOS itself
            spans = [ImageSpan(s.start - 1, s.length, s.image, s.positions) for s in spans]
        return MediaTokens(tokens, tuple(spans))

    def close(self) -> None:
        if self._ctx:
            M.mtmd_free(self._ctx)
            self._ctx = None


class _Chunks:
    """libmtmd's chunks of one prompt (owned; freed once)."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        self.image_chunks: list[int] = []
        """Chunk index of each image, in order."""

    def __iter__(self) -> Any:
        for i in range(M.mtmd_input_chunks_size(self._raw)):
            yield M.mtmd_input_chunks_get(self._raw, i)

    def image(self, index: int) -> Any:
        return M.mtmd_input_chunks_get(self._raw, self.image_chunks[index])

    def free(self) -> None:
        if self._raw is not None:
            M.mtmd_input_chunks_free(self._raw)
            self._raw = None


def _bitmap(width: int, height: int, rgb: bytes, digest: str) -> Any:
    buf = (ctypes.c_uint8 * len(rgb)).from_buffer_copy(rgb)
    bitmap = M.mtmd_bitmap_init(width, height, buf)
    if not bitmap:
        raise VisionError("llama.cpp could not take the image")
    M.mtmd_bitmap_set_id(bitmap, digest.encode())  # the chunk's id: its placeholder
    return bitmap


# -- the decode thread ------------------------------------------------------------------


class _MediaSequence(Protocol):
    """What the feeder needs of a scheduler sequence (engine/llama/scheduler.py)."""

    request: Any
    tokens: list[int]
    slot: Any
    computed: int
    cached: int
    media: MediaTokens | None


@dataclass(eq=False)
class _State:
    owner: object
    """The sequence (held, so that its id is not reused while the state lives)."""
    tokens: MediaTokens
    chunks: _Chunks


class ImageFeeder:
    """Encodes images and decodes their embeddings into the sequences that reach them."""

    def __init__(self, vision: VisionModel, ctx: NativeContext) -> None:
        self._vision = vision
        self._ctx = ctx
        self._n_batch = ctx.n_ubatch  # an image's rows in one pass (non-causal attention)
        self._states: dict[int, _State] = {}
        self.images_encoded = 0

    def feed(self, running: Iterable[_MediaSequence]) -> None:
        """Before a step: set up sequences with images, and decode every image a
        sequence has reached (its text before the image is in the KV cache)."""
        live = set()
        for seq in running:
            media = seq.request.media
            if media is None:
                continue
            live.add(id(seq))
            state = self._states.get(id(seq))
            if state is None:
                state = self._start(seq, media)
            span = state.tokens.span_at(seq.computed)
            while span is not None and span.start == seq.computed:
                self._decode_image(seq, state, span)
                span = state.tokens.span_at(seq.computed)
        for key in [k for k in self._states if k not in live]:
            self._states.pop(key).chunks.free()

    def _start(self, seq: _MediaSequence, media: MediaPrompt) -> _State:
        tokens, chunks = self._vision.chunks(media)
        # A continuation (docs/architecture.md, thinking budgets) sends the media prompt
        # followed by the output so far: text tokens after the last image.
        if list(seq.request.prompt_tokens[: len(tokens.tokens)]) != tokens.tokens:
            chunks.free()
            raise VisionError("the engine tokenized the media prompt differently")
        state = _State(seq, tokens, chunks)
        self._states[id(seq)] = state
        seq.media = tokens
        # A cached prefix may end inside an image (when only part of it was reused):
        # the image is decoded again from its start.
        inside = tokens.span_at(seq.computed)
        if inside is not None and inside.start < seq.computed:
            del seq.slot.tokens[inside.start :]
            seq.computed = seq.cached = inside.start
        # The slot table cut the reused state at the token index; after an M-RoPE image
        # positions are lower than indices, so cut again at the position.
        self._ctx.seq_rm(seq.slot.id, seq.computed - tokens.shift(seq.computed), -1)
        return state

    def _decode_image(self, seq: _MediaSequence, state: _State, span: ImageSpan) -> None:
        vision = self._vision.handle
        chunk = state.chunks.image(span.image)
        if M.mtmd_encode_chunk(vision, chunk) != 0:
            raise VisionError("llama.cpp could not encode an image")
        self.images_encoded += 1
        # libmtmd decodes the embeddings in batches of their own, with the image's
        # positions (2-D ones with M-RoPE) and non-causal attention where the
        # projector wants it.
        new_past = C.llama_pos(0)
        status = M.mtmd_helper_decode_image_chunk(
            vision,
            self._ctx.handle,
            chunk,
            M.mtmd_get_output_embd(vision),
            span.start - state.tokens.shift(span.start),
            seq.slot.id,
            self._n_batch,
            ctypes.byref(new_past),
            M.mtmd_helper_post_decode_callback(0),
            None,
        )
        if status != 0:
            raise RuntimeError(f"llama.cpp could not decode an image's embeddings ({status})")
        seq.slot.tokens.extend(seq.tokens[span.start : span.end])
        seq.computed = span.end

    def close(self) -> None:
        for state in self._states.values():
            state.chunks.free()
        self._states.clear()
