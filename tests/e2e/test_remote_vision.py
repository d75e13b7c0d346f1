"""Images on remote workers, end to end, with the tiny GLM-4.1V-class model folder
(tests/support/tiny_glm_vision.py) as the gateway's tokenizer and processor config.

Without a worker: the tokenizer API counts each image with the processor rule; media to
a text-only model or to a llama-server worker is a 1214.

With a real vLLM worker (on CPU) serving that model: vLLM's own processor expands each
image token as the gateway counts it; zai-sdk and openai SDK with data-URL images; a
cancelled image request is aborted on the worker. vLLM cannot load GLM-4.1V here:
vllm/model_executor/models/glm4_1v.py imports transformers' Glm4vImageProcessor, which
imports torchvision, and the cached vLLM virtualenv leaves torchvision out (its PyPI
builds are CUDA-linked; scripts/install-vllm.sh). Those tests skip, saying so, where the
virtualenv has no torchvision. The weights are random: no test asserts what the text
says."""

from __future__ import annotations

import base64
import io
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from openai import OpenAI
from PIL import Image
from zai import ZaiClient

from glmserve.engine.media import MEDIA_MARKER, ImageInput, MediaPrompt
from glmserve.engine.remote.engine import RemoteEngine
from glmserve.engine.remote.spec import RemoteSpec, WorkerSpec
from glmserve.engine.remote.tokenizer import HfTokenizer
from glmserve.engine.remote.vision import load_vision
from glmserve.engine.types import GenerationRequest, SamplingParams
from tests.conftest import Server
from tests.support.tiny_glm_vision import tiny_glm_vision_dir
from tests.support.workers import Worker, vllm_venv, vllm_worker

MODEL = "glm-4.6v"  # a vision model of the catalog
TEXT_MODEL = "glm-4.7"  # the same worker, as a text-only model
BLIND = "glm-4.5v"  # a vision model on a worker kind that takes no images


def _png(seed: int, width: int, height: int) -> bytes:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _data_url(data: bytes) -> str:
    return f"data:image/png;base64,{base64.b64encode(data).decode()}"


def _user(url: str, text: str = "What is in this picture?") -> list[dict[str, Any]]:
    image = {"type": "image_url", "image_url": {"url": url}}
    return [{"role": "user", "content": [image, {"type": "text", "text": text}]}]


@pytest.fixture(scope="module")
def model_dir() -> Path:
    return tiny_glm_vision_dir()


@pytest.fixture(scope="module")
def worker(model_dir: Path) -> Iterator[Worker]:
    python = vllm_venv() / "bin" / "python"
    if subprocess.run([str(python), "-c", "import torchvision"], capture_output=True).returncode:
        pytest.skip(
            "vLLM cannot load Glm4vForConditionalGeneration without torchvision (transformers' "
            "Glm4vImageProcessor imports it), which the vLLM virtualenv leaves out"
        )
    args = ["--limit-mm-per-prompt", '{"image": 4, "video": 0}']
    with vllm_worker(model_dir, model="tiny-glm-vision", extra_args=args) as w:
        yield w


@pytest.fixture(scope="module")
def remote(
    tmp_path_factory: pytest.TempPathFactory, model_dir: Path, worker: Worker
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("remote-vision")
    config = tmp / "glmserve.toml"
    models = ""
    for code, kind, url in (
        (MODEL, "vllm", worker.base),
        (TEXT_MODEL, "vllm", worker.base),
        (BLIND, "llama-server", "http://127.0.0.1:9"),
    ):
        models += (
            f'[[models]]\ncode = "{code}"\nengine = "remote"\ntokenizer = "{model_dir}"\n'
            "context_size = 2048\ndefault_max_tokens = 16\n"
            f'[[models.workers]]\nurl = "{url}"\nkind = "{kind}"\nmodel = "{worker.model}"\n\n'
        )
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n' + models
    )
    srv = Server(config, tmp / "server.log")
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[Server]:
    """glmserve with the three models on workers that are down (nothing here reaches one)."""
    tmp = tmp_path_factory.mktemp("remote-vision-gateway")
    config = tmp / "glmserve.toml"
    models = ""
    for code, kind in ((MODEL, "vllm"), (TEXT_MODEL, "vllm"), (BLIND, "llama-server")):
        models += (
            f'[[models]]\ncode = "{code}"\nengine = "remote"\ntokenizer = "{model_dir}"\n'
            "context_size = 2048\n"
            f'[[models.workers]]\nurl = "http://127.0.0.1:9"\nkind = "{kind}"\n\n'
        )
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n' + models
    )
    srv = Server(config, tmp / "server.log")
    yield srv
    srv.stop()


def test_tokenizer_api_counts_images_by_the_processor_rule(gateway: Server) -> None:
    plain = _tokenizer_api(gateway, [{"role": "user", "content": "What is in this picture?"}])
    for size, tokens in (((84, 56), 6), ((56, 56), 4), ((400, 300), 12), ((10, 10), 1)):
        count = _tokenizer_api(gateway, _user(_data_url(_png(1, *size))))
        assert count["image_tokens"] == tokens and count["video_tokens"] == 0, (size, count)
        # the image block: begin, the image's tokens, end
        assert count["prompt_tokens"] == plain["prompt_tokens"] + 2 + tokens, (size, count)


def test_media_where_it_cannot_be_seen_is_1214(gateway: Server) -> None:
    messages = _user(_data_url(_png(5, 56, 56)))
    for model, says in ((TEXT_MODEL, "accepts text only"), (BLIND, "takes no images")):
        r = httpx.post(
            f"{gateway.zai_base}chat/completions",
            json={"model": model, "messages": messages, "max_tokens": 4},
            timeout=60,
        )
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "1214" and says in error["message"], error


def _tokenizer_api(server: Server, messages: list[dict[str, Any]]) -> dict[str, int]:
    r = httpx.post(
        f"{server.zai_base}tokenizer", json={"model": MODEL, "messages": messages}, timeout=60
    )
    assert r.status_code == 200, r.text
    usage: dict[str, int] = r.json()["usage"]
    return usage


@pytest.mark.parametrize("size", [(56, 56), (84, 56), (200, 150), (10, 10), (300, 40)])
def test_vllm_expands_each_image_as_the_gateway_counts_it(
    worker: Worker, model_dir: Path, size: tuple[int, int]
) -> None:
    tok = HfTokenizer(model_dir)
    rule = load_vision(model_dir, tok.token_id).rule
    ids = [tok.token_id(t) for t in ("<|begin_of_image|>", "<|image|>", "<|end_of_image|>")]
    body = {
        "model": worker.model,
        "token_ids": [*tok.encode("[gMASK]<sop><|user|>\n"), *ids, *tok.encode("hi")],
        "content_parts": [{"type": "image_url", "url": _data_url(_png(1, *size))}],
        "sampling_params": {"max_tokens": 1, "temperature": 0},
        "return_token_ids": True,
    }
    r = httpx.post(f"{worker.base}/inference/v1/generate", json=body, timeout=300)
    assert r.status_code == 200, r.text
    expanded = r.json()["prompt_token_ids"]
    assert len(expanded) == len(body["token_ids"]) - 1 + rule.tokens(*size)


def test_zai_sdk_image_usage_is_the_expanded_prompt(remote: Server) -> None:
    client = ZaiClient(api_key="test-id.test-secret", base_url=remote.zai_base)
    messages = _user(_data_url(_png(2, 84, 56)))
    reply = client.chat.completions.create(
        model=MODEL, messages=messages, max_tokens=8, temperature=0, thinking={"type": "disabled"}
    )
    assert reply.choices[0].finish_reason in ("stop", "length")
    count = _tokenizer_api(remote, messages)
    assert count["image_tokens"] == 6  # 84 x 56 pixels: 6 x 4 patches, merged 2 x 2
    # The usage is vLLM's count of the expanded prompt; the tokenizer API's is the rule's.
    assert reply.usage.prompt_tokens == count["prompt_tokens"]


def test_two_images_at_temperature_0_each_get_an_answer(remote: Server) -> None:
    client = OpenAI(api_key="x", base_url=remote.zai_base)
    answers = []
    for seed in (3, 4, 3):
        reply = client.chat.completions.create(
            model=MODEL,
            messages=_user(_data_url(_png(seed, 56, 56))),  # type: ignore[arg-type]
            max_tokens=8,
            temperature=0,
        )
        assert reply.choices[0].finish_reason in ("stop", "length"), reply
        assert reply.usage is not None and reply.usage.completion_tokens > 0
        answers.append(reply.choices[0].message)
    assert answers[0] == answers[2]  # the same image again: the same greedy answer


async def test_cancel_aborts_an_image_request_on_the_worker(
    worker: Worker, model_dir: Path
) -> None:
    spec = RemoteSpec(
        workers=(WorkerSpec(worker.base, "vllm", model=worker.model),),
        tokenizer=model_dir,
        context_size=2048,
        vision=True,
    )
    engine = RemoteEngine(spec)
    try:
        assert engine.supports_images
        rgb = np.random.default_rng(6).integers(0, 256, (56, 56, 3), np.uint8).tobytes()
        prompt = MediaPrompt(
            f"[gMASK]<sop><|user|>\n{MEDIA_MARKER}Describe it.<|assistant|>\n",
            (ImageInput(56, 56, rgb),),
        )
        tokens = engine.tokenize_media(prompt).tokens
        greedy = SamplingParams(temperature=0.0)
        gen = engine.start(GenerationRequest(tokens, 1500, greedy, media=prompt))
        seen = 0
        async for _ in gen:
            seen += 1
            if seen == 3:
                gen.cancel()
        assert gen.finish_reason == "cancelled", gen.error
        deadline = time.monotonic() + 60
        while _running(worker) > 0:
            assert time.monotonic() < deadline, "vLLM kept generating after the cancel"
            time.sleep(0.2)
    finally:
        engine.close()


def _running(worker: Worker) -> float:
    metrics = httpx.get(f"{worker.base}/metrics", timeout=30).text
    found = re.findall(r"^vllm:num_requests_running\{[^}]*\} ([0-9.e+]+)$", metrics, re.M)
    return sum(float(v) for v in found)
