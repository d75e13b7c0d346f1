"""Images through remote workers, against scripted workers: the processor rule's token
counts, the token prompt with placeholders, what vLLM and SGLang are sent (documented
wire shapes; SGLang is not run here), the usage as the worker counts it, the abort call,
and which engines take images. The real vLLM worker is in tests/e2e/test_remote_vision.py."""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from glmserve.engine.media import MEDIA_MARKER, ImageInput, MediaPrompt, image_placeholder
from glmserve.engine.remote.sglang import SglangAdapter
from glmserve.engine.remote.vision import ImageRule, RemoteVision, load_vision
from glmserve.engine.remote.vllm import VllmAdapter
from glmserve.engine.types import GenerationRequest, SamplingParams
from tests.engine.remote_fakes import EOS, ByteTokenizer, FakeCluster, eventually

BEGIN, IMAGE, END = 310, 311, 312
BLOCK = {"<|begin_of_image|>": BEGIN, "<|image|>": IMAGE, "<|end_of_image|>": END}
RULE = ImageRule(patch_size=14, merge_size=2, temporal_patch_size=2,
                 min_pixels=2 * 28 * 28, max_pixels=2 * 112 * 112)  # fmt: skip


class VisionTokenizer(ByteTokenizer):
    """Bytes, plus GLM-V's image block tokens."""

    def encode(self, text: str) -> list[int]:
        out: list[int] = []
        for part in re.split(r"(<\|begin_of_image\|>|<\|image\|>|<\|end_of_image\|>)", text):
            out.extend([BLOCK[part]] if part in BLOCK else part.encode("utf-8"))
        return out

    def token_id(self, text: str) -> int | None:
        return BLOCK.get(text)


def image(width: int, height: int, shade: int = 0) -> ImageInput:
    return ImageInput(width, height, bytes([shade, 100, 200]) * (width * height))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    config = {
        "image_processor_type": "Glm4vImageProcessor",
        "patch_size": 14,
        "merge_size": 2,
        "temporal_patch_size": 2,
        "size": {"shortest_edge": RULE.min_pixels, "longest_edge": RULE.max_pixels},
    }
    (tmp_path / "preprocessor_config.json").write_text(json.dumps(config))
    return tmp_path


@pytest.fixture
def cluster() -> Iterator[FakeCluster]:
    yield FakeCluster(1)


def test_processor_rule_counts_as_glm4v_resizes() -> None:
    # Glm4vImageProcessor's defaults: 14-pixel patches, 2 x 2 merged, 112² to 28²·15000 px.
    rule = ImageRule()
    assert rule.size(1000, 500) == (1008, 504) and rule.tokens(1000, 500) == 72 * 36 // 4
    # Under the minimum: scaled up by sqrt(112² / (2·28²)) and rounded up to 28s.
    assert rule.size(28, 28) == (84, 84) and rule.tokens(28, 28) == 9
    # Over the maximum: scaled down and rounded down to 28s.
    assert RULE.size(400, 300) == (112, 84) and RULE.tokens(400, 300) == 12
    assert RULE.tokens(10, 10) == 1  # tiny: scaled up to one 28 x 28 block
    with pytest.raises(ValueError, match="200:1"):
        RULE.tokens(5000, 20)


def test_folder_gives_the_rule_and_tokens(folder: Path, tmp_path: Path) -> None:
    vision = load_vision(folder, VisionTokenizer().token_id)
    assert vision.rule == RULE and (vision.begin, vision.image, vision.end) == (310, 311, 312)
    with pytest.raises(ValueError, match=re.escape("no <|image|> token")):
        load_vision(folder, lambda t: None if t == "<|image|>" else 1)
    clip = {"image_processor_type": "CLIPImageProcessor"}
    (folder / "preprocessor_config.json").write_text(json.dumps(clip))
    with pytest.raises(ValueError, match="CLIPImageProcessor"):
        load_vision(folder, VisionTokenizer().token_id)
    with pytest.raises(ValueError, match=r"no preprocessor_config\.json"):
        load_vision(tmp_path / "elsewhere", VisionTokenizer().token_id)


def test_tokenize_puts_placeholders_where_each_image_token_stands() -> None:
    vision = RemoteVision(RULE, BEGIN, IMAGE, END)
    a, b = image(56, 56), image(84, 56, shade=9)
    prompt = MediaPrompt(f"x{MEDIA_MARKER}y{MEDIA_MARKER}", (a, b))
    tokens = vision.tokenize(prompt, VisionTokenizer().encode)
    pa, pb = image_placeholder(a.digest), image_placeholder(b.digest)
    x, y = ord("x"), ord("y")
    assert tokens.tokens == [x, BEGIN, *[pa] * 4, END, y, BEGIN, *[pb] * 6, END]
    assert [(s.start, s.length, s.image) for s in tokens.spans] == [(2, 4, 0), (9, 6, 1)]
    assert tokens.image_tokens == 10
    wire = vision.wire(tokens.tokens, prompt)
    assert wire.token_ids == [x, BEGIN, IMAGE, END, y, BEGIN, IMAGE, END]
    decoded = [_decode(url) for url in wire.images]
    assert decoded == [(56, 56, a.rgb), (84, 56, b.rgb)]  # lossless PNG
    with pytest.raises(ValueError, match="do not match"):
        vision.tokenize(MediaPrompt("no marker", (a,)), VisionTokenizer().encode)
    with pytest.raises(ValueError, match="more image tokens"):  # a literal <|image|> in text
        vision.tokenize(MediaPrompt(f"<|image|>{MEDIA_MARKER}", (a,)), VisionTokenizer().encode)


def _decode(url: str) -> tuple[int, int, bytes]:
    assert url.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1])))
    return img.width, img.height, img.convert("RGB").tobytes()


def _media_request(prompt: MediaPrompt, vision: RemoteVision) -> GenerationRequest:
    tokens = vision.tokenize(prompt, VisionTokenizer().encode)
    return GenerationRequest(tokens.tokens, 20, SamplingParams(temperature=0.0), media=prompt)


def test_vllm_generate_body_and_abort() -> None:
    vision = RemoteVision(RULE, BEGIN, IMAGE, END)
    prompt = MediaPrompt(f"q{MEDIA_MARKER}", (image(56, 56),))
    request = _media_request(prompt, vision)
    wire = vision.wire(request.prompt_tokens, prompt)
    adapter = VllmAdapter()
    assert adapter.endpoint(None) == "/v1/completions"
    assert adapter.endpoint(wire) == "/inference/v1/generate"
    body = adapter.body(request, frozenset({EOS}), "glm-v", wire)
    assert body["token_ids"] == [ord("q"), BEGIN, IMAGE, END] and body["model"] == "glm-v"
    assert body["content_parts"] == [{"type": "image_url", "url": wire.images[0]}]
    assert body["stream"] and body["return_token_ids"]
    assert body["stream_options"] == {"include_usage": True}
    params = body["sampling_params"]
    assert params["max_tokens"] == 20 and params["temperature"] == 0.0
    assert params["stop_token_ids"] == [EOS] and not params["skip_special_tokens"]
    assert "prompt" not in body and "max_tokens" not in body
    assert adapter.abort(body) == (
        "/inference/v1/abort_requests",
        {"request_ids": [f"generate-tokens-{body['request_id']}"]},
    )
    text = adapter.body(request, frozenset(), None)  # /v1/completions
    assert adapter.abort(text) == (
        "/inference/v1/abort_requests",
        {"request_ids": [f"cmpl-{text['request_id']}-0"]},
    )
    reader = adapter.reader(6, bytes)
    first = reader.feed(
        {"choices": [{"index": 0, "token_ids": [65]}], "prompt_token_ids": list(range(7))}
    )
    assert first.prompt_tokens == 7 and first.tokens == [65]


def test_sglang_body_with_images() -> None:
    vision = RemoteVision(RULE, BEGIN, IMAGE, END)
    prompt = MediaPrompt(f"{MEDIA_MARKER}{MEDIA_MARKER}q", (image(56, 56), image(30, 30, 5)))
    request = _media_request(prompt, vision)
    wire = vision.wire(request.prompt_tokens, prompt)
    adapter = SglangAdapter()
    assert adapter.takes_images and adapter.endpoint(wire) == "/generate"
    body = adapter.body(request, frozenset({EOS}), None, wire)
    assert body["input_ids"] == [BEGIN, IMAGE, END, BEGIN, IMAGE, END, ord("q")]
    assert body["image_data"] == list(wire.images) and len(wire.images) == 2
    assert body["sampling_params"]["max_new_tokens"] == 20 and body["stream"]


def _vllm_chunks(prompt_len: int) -> list[dict[str, object]]:
    return [
        {"choices": [{"index": 0, "token_ids": [65, 66]}], "prompt_token_ids": [1] * prompt_len},
        {"choices": [{"index": 0, "token_ids": [EOS], "finish_reason": "stop"}]},
        {"choices": [], "usage": {"prompt_tokens": prompt_len, "completion_tokens": 3}},
    ]


async def test_media_goes_to_generate_and_usage_is_the_workers_count(
    cluster: FakeCluster, folder: Path
) -> None:
    worker = cluster.workers[0]
    worker.events = _vllm_chunks(11)
    engine = cluster.engine(kind="vllm", tokenizer=VisionTokenizer(), folder=folder, vision=True)
    try:
        assert engine.supports_images
        prompt = MediaPrompt(f"q{MEDIA_MARKER}", (image(56, 56),))
        tokens = engine.tokenize_media(prompt)
        assert len(tokens.tokens) == 7  # q, begin, 4 image tokens, end
        gen = engine.start(GenerationRequest(tokens.tokens, 20, media=prompt))
        assert "".join([t.text async for t in gen]) == "AB"
        assert gen.usage.prompt_tokens == 11  # as the worker expanded it
        assert worker.paths == ["/inference/v1/generate"]
        assert worker.requests[0]["token_ids"] == [ord("q"), BEGIN, IMAGE, END]
        worker.events = _vllm_chunks(3)
        text = engine.start(GenerationRequest(VisionTokenizer().encode("hi"), 20))
        assert "".join([t.text async for t in text]) == "AB"
        assert worker.paths[-1] == "/v1/completions"  # text-only: unchanged
    finally:
        engine.close()


async def test_cancel_sends_vllm_the_abort_call(cluster: FakeCluster, folder: Path) -> None:
    worker = cluster.workers[0]
    worker.events = [{"choices": [{"index": 0, "token_ids": [65]}]}] * 2000
    worker.delay = 0.001
    engine = cluster.engine(kind="vllm", tokenizer=VisionTokenizer(), folder=folder, vision=True)
    try:
        prompt = MediaPrompt(MEDIA_MARKER, (image(56, 56),))
        gen = engine.start(
            GenerationRequest(engine.tokenize_media(prompt).tokens, 5000, media=prompt)
        )
        async for token in gen:
            if token.text:
                gen.cancel()
        assert gen.finish_reason == "cancelled" and worker.closed == 1
        await eventually(lambda: len(worker.paths) == 2, "no abort call")  # sent unawaited
        assert worker.paths == ["/inference/v1/generate", "/inference/v1/abort_requests"]
        rid = worker.requests[0]["request_id"]
        assert worker.requests[1] == {"request_ids": [f"generate-tokens-{rid}"]}
    finally:
        engine.close()


def test_which_remote_engines_take_images(cluster: FakeCluster, folder: Path) -> None:
    tok = VisionTokenizer()
    cases = {
        ("vllm", True, folder): True,
        ("sglang", True, folder): True,
        ("vllm", False, folder): False,  # the model does not see
        ("llama-server", True, folder): False,  # the worker kind takes no images
        ("vllm", True, folder / "missing"): False,  # no processor config
    }
    for (kind, vision, where), sees in cases.items():
        engine = cluster.engine(kind=kind, tokenizer=tok, folder=where, vision=vision)
        try:
            assert engine.supports_images is sees, (kind, vision, where)
        finally:
            engine.close()
