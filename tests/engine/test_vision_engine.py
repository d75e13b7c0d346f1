"""Images through the real embedded engine: libmtmd with a tiny projector (tests/support/
tiny_vision.py), its tokens counted by llama.cpp itself, the prefix cache keyed by the
image's bytes."""

from __future__ import annotations

import asyncio
import ctypes
from collections.abc import Iterator
from pathlib import Path

import llama_cpp as C
import numpy as np
import pytest
from llama_cpp import mtmd_cpp as M

from glmserve.engine.llama.engine import LlamaEngine
from glmserve.engine.llama.native import NativeModel
from glmserve.engine.llama.vision import VisionError, VisionModel
from glmserve.engine.media import MEDIA_MARKER, ImageInput, MediaPrompt, image_placeholder
from glmserve.engine.types import GenerationRequest, SamplingParams, Usage
from tests.support.tiny_vision import IMAGE_TOKENS, build, build_mrope

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
    # llama.cpp's default marker in the text is text, not an image.
    text = PROMPT.replace("describe it", "say what <__media__> means")
    assert len(engine.tokenize_media(MediaPrompt(text, (_image(60, 8, 8),))).spans) == 1


def test_a_file_that_is_not_a_projector_is_refused(files: tuple[Path, Path]) -> None:
    model_path, _ = files
    model = NativeModel(model_path, vocab_only=True)
    try:
        with pytest.raises(VisionError):
            VisionModel(model_path, model, threads=1)  # the language model, not a projector
    finally:
        model.close()


# -- M-RoPE: images that take fewer positions than tokens (as GLM-4.xV's) -------------


@pytest.fixture(scope="module")
def mrope_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build_mrope(tmp_path_factory.mktemp("tiny-mrope"))


@pytest.fixture(scope="module")
def mrope_engine(mrope_files: tuple[Path, Path]) -> Iterator[LlamaEngine]:
    model, mmproj = mrope_files
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


def _llama_cpp_greedy(files: tuple[Path, Path], prompt: MediaPrompt, n: int) -> list[int]:
    """Greedy tokens as llama.cpp's own helpers compute them: mtmd_helper_eval_chunks
    places text and images in a fresh context, then one token at a time."""
    model_path, mmproj = files
    model = NativeModel(model_path)
    cparams = C.llama_context_default_params()
    cparams.n_ctx, cparams.n_batch, cparams.n_ubatch = 512, 64, 64
    cparams.flash_attn_type = C.LLAMA_FLASH_ATTN_TYPE_DISABLED
    lctx = C.llama_init_from_model(model.handle, cparams)
    params = M.mtmd_context_params_default()
    params.use_gpu, params.warmup = False, False
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
    past = C.llama_pos(0)
    assert M.mtmd_helper_eval_chunks(ctx, lctx, chunks, 0, 0, 64, True, ctypes.byref(past)) == 0
    out: list[int] = []
    batch = C.llama_batch_init(1, 0, 1)
    for _ in range(n):
        logits = C.llama_get_logits_ith(lctx, -1)
        token = int(np.argmax(np.ctypeslib.as_array(logits, shape=(model.n_vocab,))))
        out.append(token)
        if model.is_eog(token):
            break
        batch.n_tokens = 1
        batch.token[0], batch.pos[0], batch.n_seq_id[0] = token, past.value, 1
        batch.seq_id[0][0], batch.logits[0] = 0, True
        assert C.llama_decode(lctx, batch) == 0
        past.value += 1
    C.llama_batch_free(batch)
    M.mtmd_input_chunks_free(chunks)
    for bitmap in bitmaps:
        M.mtmd_bitmap_free(bitmap)
    M.mtmd_free(ctx)
    C.llama_free(lctx)
    model.close()
    return out


def test_mrope_images_take_fewer_positions_and_match_llama_cpp(
    mrope_engine: LlamaEngine, mrope_files: tuple[Path, Path]
) -> None:
    images = (_image(40, 64, 48), _image(41, 30, 100))
    text = PROMPT.replace(MEDIA_MARKER, MEDIA_MARKER + " and " + MEDIA_MARKER)
    prompt = MediaPrompt(text, images)
    tokens = mrope_engine.tokenize_media(prompt)
    assert len(tokens.tokens) == _llama_cpp_count(mrope_files, prompt)
    assert all(span.positions < span.length for span in tokens.spans)  # M-RoPE
    assert tokens.spans[0].positions != tokens.spans[1].positions  # the shape decides
    reference = _llama_cpp_greedy(mrope_files, prompt, 10)
    first, usage1, _ = _run(mrope_engine, prompt)
    assert first == reference
    # Again: the images come from the prefix cache, positions and all.
    second, usage2, _ = _run(mrope_engine, prompt)
    assert second == reference
    assert usage2.cached_tokens >= tokens.spans[1].end > usage1.cached_tokens


def test_mrope_cached_prefix_then_other_text(
    mrope_engine: LlamaEngine, mrope_files: tuple[Path, Path]
) -> None:
    image = (_image(50, 40, 40),)
    _run(mrope_engine, MediaPrompt(PROMPT, image))
    other = MediaPrompt(PROMPT.replace("What do you see there?", "Which colours are in it?"), image)
    span = mrope_engine.tokenize_media(other).spans[0]
    answer, usage, _ = _run(mrope_engine, other)
    assert usage.cached_tokens >= span.end  # the image and the text after it reused
    assert answer == _llama_cpp_greedy(mrope_files, other, 10)
