"""Images through the real embedded engine: libmtmd with a tiny projector (tests/support/
tiny_vision.py), its tokens counted by llama.cpp itself, the prefix cache keyed by the
image's bytes."""

from __future__ import annotations

import asyncio
import ctypes
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from llama_cpp import mtmd_cpp as M

from glmserve.engine.llama import LlamaEngine
from glmserve.engine.media import MEDIA_MARKER, ImageInput, MediaPrompt, image_placeholder
from glmserve.engine.native import NativeModel
from glmserve.engine.types import GenerationRequest, SamplingParams, Usage
from glmserve.engine.vision import VisionError, VisionModel
from tests.support.tiny_vision import IMAGE_TOKENS, build

GREEDY = SamplingParams(temperature=0.0)
PROMPT = (
    "[gMASK]<sop><|user|>\nPlease look at the picture I am sending and describe it: "
    f"{MEDIA_MARKER} What do you see there?<|assistant|>\n"
)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build(tmp_path_factory.mktemp("tiny-vision"))


@pytest.fixture(scope="module")
def engine(files: tuple[Path, Path]) -> Iterator[LlamaEngine]:
    model, mmproj = files
    eng = LlamaEngine(
        model,
        context_size=512,
        threads=2,
        batch_size=32,
        max_running=2,
        queue_limit=8,
        batch_invariant=True,
        mmproj=mmproj,
    )
    yield eng
    eng.close()


def _image(seed: int, width: int, height: int) -> ImageInput:
    rng = np.random.default_rng(seed)
    return ImageInput(width, height, rng.integers(0, 256, width * height * 3, np.uint8).tobytes())


def _run(engine: LlamaEngine, prompt: MediaPrompt) -> tuple[list[int], Usage, int]:
    async def go() -> tuple[list[int], Usage, int]:
        tokens = engine.tokenize_media(prompt)
        request = GenerationRequest(tokens.tokens, 10, GREEDY, media=prompt)
        gen = engine.start(request)
        out = [t.token_id async for t in gen]
        assert gen.finish_reason in ("stop", "length"), gen.error
        return out, gen.usage, len(tokens.tokens)

    return asyncio.run(go())


def _llama_cpp_count(files: tuple[Path, Path], prompt: MediaPrompt) -> int:
    """llama.cpp's own count of the multimodal prompt (mtmd_tokenize, then
    mtmd_helper_get_n_tokens), with no glmserve code on the way."""
    model_path, mmproj = files
    model = NativeModel(model_path, vocab_only=True)
    params = M.mtmd_context_params_default()
    params.use_gpu = False
    params.warmup = False
    ctx = M.mtmd_init_from_file(str(mmproj).encode(), model.handle, params)
    bitmaps = []
    for image in prompt.images:
        buf = (ctypes.c_uint8 * len(image.rgb)).from_buffer_copy(image.rgb)
        bitmaps.append(M.mtmd_bitmap_init(image.width, image.height, buf))
    data = prompt.text.replace(MEDIA_MARKER, M.mtmd_default_marker().decode()).encode()
    text = M.mtmd_input_text(text=data, text_len=len(data), add_special=True, parse_special=True)
    chunks = M.mtmd_input_chunks_init()
    array = (M.mtmd_bitmap_p_ctypes * len(bitmaps))(*bitmaps)
    assert M.mtmd_tokenize(ctx, chunks, ctypes.byref(text), array, len(bitmaps)) == 0
    count: int = M.mtmd_helper_get_n_tokens(chunks)
    M.mtmd_input_chunks_free(chunks)
    for bitmap in bitmaps:
        M.mtmd_bitmap_free(bitmap)
    M.mtmd_free(ctx)
    model.close()
    return count


@pytest.mark.parametrize("sizes", [[(64, 48)], [(20, 90), (300, 200)], [(1, 1), (33, 17), (8, 8)]])
def test_prompt_tokens_are_llama_cpps_count(
    engine: LlamaEngine, files: tuple[Path, Path], sizes: list[tuple[int, int]]
) -> None:
    images = tuple(_image(i, w, h) for i, (w, h) in enumerate(sizes))
    text = PROMPT.replace(MEDIA_MARKER, MEDIA_MARKER * len(images))
    prompt = MediaPrompt(text, images)
    tokens = engine.tokenize_media(prompt)
    assert len(tokens.tokens) == _llama_cpp_count(files, prompt)
    assert tokens.image_tokens == IMAGE_TOKENS * len(images)
    assert [s.image for s in tokens.spans] == list(range(len(images)))
    for span, image in zip(tokens.spans, images, strict=True):
        assert (
            tokens.tokens[span.start : span.end] == [image_placeholder(image.digest)] * span.length
        )
    _, usage, n = _run(engine, prompt)
    assert usage.prompt_tokens == n == len(tokens.tokens)


def test_different_images_give_different_greedy_answers(engine: LlamaEngine) -> None:
    first, _, _ = _run(engine, MediaPrompt(PROMPT, (_image(10, 64, 64),)))
    second, _, _ = _run(engine, MediaPrompt(PROMPT, (_image(11, 64, 64),)))
    assert first != second


def test_same_image_twice_gives_the_same_answer_from_the_prefix_cache(engine: LlamaEngine) -> None:
    prompt = MediaPrompt(PROMPT, (_image(20, 50, 70),))
    span = engine.tokenize_media(prompt).spans[0]
    first, usage1, _ = _run(engine, prompt)
    # The same bytes again, in a fresh ImageInput: equal only by content.
    again = MediaPrompt(PROMPT, (ImageInput(50, 70, bytes(prompt.images[0].rgb)),))
    second, usage2, _ = _run(engine, again)
    assert second == first
    assert usage2.cached_tokens >= span.end  # the image itself came from the cache
    assert usage1.cached_tokens < usage2.cached_tokens


def test_a_cached_prefix_ends_where_the_image_differs(engine: LlamaEngine) -> None:
    image = _image(30, 40, 40)
    prompt = MediaPrompt(PROMPT, (image,))
    span = engine.tokenize_media(prompt).spans[0]
    _run(engine, prompt)
    other = MediaPrompt(PROMPT, (_image(31, 40, 40),))
    _, usage, _ = _run(engine, other)
    assert 0 < usage.cached_tokens <= span.start  # the text before the image only


def test_markers_and_images_must_match(engine: LlamaEngine) -> None:
    with pytest.raises(VisionError):
        engine.tokenize_media(MediaPrompt(PROMPT, ()))


def test_a_file_that_is_not_a_projector_is_refused(files: tuple[Path, Path]) -> None:
    model_path, _ = files
    model = NativeModel(model_path, vocab_only=True)
    try:
        with pytest.raises(VisionError):
            VisionModel(model_path, model, threads=1)  # the language model, not a projector
    finally:
        model.close()
