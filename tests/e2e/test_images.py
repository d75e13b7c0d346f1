"""Image and video generation through the real HTTP app (docs/images.md): tiny real
diffusers pipelines (tests/support/tiny_diffusion.py) in their engine processes, the
official zai-sdk and openai clients unchanged, result URLs, the ledger, async tasks
across a gateway restart."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from openai import OpenAI
from PIL import Image
from zai import ZaiClient
from zai.core import APIRequestFailedError

from tests.conftest import Server
from tests.support.image_worker import FakeWorker, start_worker
from tests.support.tiny_diffusion import tiny_cogvideox, tiny_cogvideox_i2v, tiny_cogview4

ADMIN = "images-admin-key-0123456789abcdef"


def _config(tmp: Path, *, workers: int = 1, signed: bool = True, safety: str = "") -> Path:
    image, video, i2v = tiny_cogview4(), tiny_cogvideox(), tiny_cogvideox_i2v()
    config = tmp / f"glmserve-{workers}-{signed}.toml"
    config.write_text(
        f'[platform]\nadmin_key = "{ADMIN}"\ndata_dir = "{tmp / "data"}"\n'
        f"task_workers = {workers}\n\n"
        f"[images]\nsigned_urls = {str(signed).lower()}\n\n{safety}"
        f'[[images.models]]\ncode = "cogview-4"\npath = "{image}"\n'
        "steps = 2\nfast_steps = 1\nthreads = 2\nmax_n = 2\n\n"
        f'[[images.models]]\ncode = "glm-image"\npath = "{image}"\n'
        "steps = 1\nfast_steps = 1\nthreads = 2\n\n"
        f'[[images.models]]\ncode = "tiny-video"\npath = "{video}"\n'
        "steps = 1\nfast_steps = 1\nthreads = 2\nframes = 9\n\n"
        f'[[images.models]]\ncode = "tiny-i2v"\npath = "{i2v}"\n'
        "steps = 1\nfast_steps = 1\nthreads = 2\nframes = 9\n"
    )
    return config


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("images")
    srv = Server(_config(tmp), tmp / "server.log")
    yield srv
    srv.stop()


def _key(server: Server, name: str = "painter") -> tuple[str, str]:
    r = httpx.post(
        f"{server.base}/admin/keys",
        json={"name": name, "tier": "V3", "balance": 5},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id"]), str(r.json()["api_key"])


@pytest.fixture(scope="module")
def api_key(server: Server) -> str:
    return _key(server)[1]


@pytest.fixture(scope="module")
def zai(server: Server, api_key: str) -> ZaiClient:
    return ZaiClient(api_key=api_key, base_url=server.zai_base, timeout=600)


def _image(url: str, key: str | None = None) -> Image.Image:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    r = httpx.get(url, headers=headers, timeout=60)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(r.content))
    image.load()
    return image


def _bytes(url: str) -> bytes:
    r = httpx.get(url, timeout=60)
    assert r.status_code == 200, r.text
    return r.content


def test_zai_sdk_image_is_the_size_asked_for_and_seeded(zai: ZaiClient) -> None:
    def generate(prompt: str, seed: int, mark: bool = False) -> str:
        response = zai.images.generations(
            model="cogview-4",
            prompt=prompt,
            size="512x768",
            watermark_enabled=mark,
            extra_body={"seed": seed},
        )
        assert response.created > 0 and len(response.data) == 1
        url = response.data[0].url
        assert url is not None
        return url

    first = generate("a watercolor fox", 11)
    image = _image(first)
    assert image.format == "PNG" and image.size == (512, 768)
    assert _bytes(generate("a watercolor fox", 11)) == _bytes(first)
    assert _bytes(generate("a watercolor fox", 12)) != _bytes(first)
    assert _bytes(generate("a red lighthouse", 11)) != _bytes(first)


def test_watermark_is_on_by_default(zai: ZaiClient) -> None:
    def generate(**extra: Any) -> Image.Image:
        response = zai.images.generations(
            model="cogview-4", prompt="a boat", size="512x512", extra_body={"seed": 3}, **extra
        )
        return _image(str(response.data[0].url))

    marked, plain = generate(), generate(watermark_enabled=False)
    assert '"Label":"1"' in marked.text["AIGC"]  # type: ignore[attr-defined]
    assert "AIGC" not in plain.text  # type: ignore[attr-defined]
    corner = (400, 480, 512, 512)
    assert marked.crop(corner).tobytes() != plain.crop(corner).tobytes()
    assert marked.crop((0, 0, 256, 256)).tobytes() == plain.crop((0, 0, 256, 256)).tobytes()


def test_signed_url_refuses_tampering(server: Server, zai: ZaiClient, api_key: str) -> None:
    url = str(zai.images.generations(model="cogview-4", prompt="x", size="512x512").data[0].url)
    assert url.startswith(f"{server.base}/api/paas/v4/media/") and "signature=" in url
    assert httpx.get(url, timeout=30).status_code == 200  # no key needed with the signature
    bare = url.split("?", 1)[0]
    tampered = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    other = _key(server, "stranger")[1]
    for attempt in (tampered, bare):
        r = httpx.get(attempt, headers={"Authorization": f"Bearer {other}"}, timeout=30)
        assert r.status_code == 404 and r.json()["error"]["code"], r.text
    assert _image(bare, api_key).size == (512, 512)  # the creating key reads it bare


def test_openai_sdk_on_v1_and_billing(server: Server) -> None:
    key_id, key = _key(server, "openai")
    client = OpenAI(api_key=key, base_url=f"{server.base}/v1", timeout=600)
    out = client.images.generate(
        model="cogview-4", prompt="a cat", size="1024x1024", n=2, response_format="b64_json"
    )
    assert out.data is not None and len(out.data) == 2
    sizes = {Image.open(io.BytesIO(base64.b64decode(d.b64_json or ""))).size for d in out.data}
    assert sizes == {(1024, 1024)}
    one = client.images.generate(model="cogview-4", prompt="a dog", size="512x512")
    assert one.data is not None and one.data[0].url
    usage: list[dict[str, Any]] = []
    for _ in range(100):  # records are written once each response is over
        usage = httpx.get(
            f"{server.base}/admin/usage",
            params={"key": key_id},
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=10,
        ).json()["data"]
        if usage and usage[0]["requests"] == 2:
            break
        time.sleep(0.1)
    assert len(usage) == 1 and usage[0]["model"] == "cogview-4"
    assert usage[0]["cost"] == "0.030000000"  # three images at 0.01 USD (the catalog's)
    metrics = httpx.get(f"{server.base}/metrics", timeout=10).text
    line = next(
        row
        for row in metrics.splitlines()
        if row.startswith('glmserve_image_generations_total{engine="diffusers",model="cogview-4"}')
    )
    assert float(line.split()[-1]) >= 2
    assert 'glmserve_image_engine_loaded{engine="diffusers",model="cogview-4"} 1.0' in metrics


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ({"model": "cogview-4", "prompt": ""}, "1214", "prompt"),
        ({"model": "cogview-4", "prompt": "x" * 5000}, "1261", "prompt"),
        ({"model": "cogview-4", "prompt": "x", "size": "500x500"}, "1214", "size"),
        ({"model": "cogview-4", "prompt": "x", "size": "big"}, "1214", "size"),
        ({"model": "cogview-4", "prompt": "x", "n": 3}, "1214", "n"),
        ({"model": "cogview-4", "prompt": "x", "quality": "ultra"}, "1214", "quality"),
        ({"model": "cogview-4", "prompt": "x", "style": "vivid"}, "1214", "style"),
        ({"model": "tiny-video", "prompt": "x"}, "1214", "model"),
        ({"model": "gemma-3-270m", "prompt": "x"}, "1211", "gemma-3-270m"),
    ],
)
def test_bad_image_requests(
    server: Server, api_key: str, body: dict[str, Any], code: str, field: str
) -> None:
    r = httpx.post(
        f"{server.zai_base}images/generations",
        json=body,
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=60,
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == code and field in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"image_url": "http://127.0.0.1:1/private.png"}, "image_url"),
        ({"image_url": "bm90IGFuIGltYWdl"}, "image_url"),  # base64 of "not an image"
        ({"with_audio": True}, "with_audio"),
        ({"size": "250x250"}, "size"),
        ({"fps": 7}, "fps"),
    ],
)
def test_bad_video_requests(zai: ZaiClient, extra: dict[str, Any], field: str) -> None:
    with pytest.raises(APIRequestFailedError) as caught:
        zai.videos.generations(model="tiny-video", prompt="waves", **extra)
    assert caught.value.status_code == 400
    assert field in str(caught.value)


def test_async_image_task(zai: ZaiClient) -> None:
    task = zai.images.async_generations(model="glm-image", prompt="a tower", size="512x512")
    assert task.task_status == "PROCESSING" and task.id
    result = _poll(lambda: zai.images.retrieve_images_result(id=str(task.id)))
    assert result.image_result and _image(str(result.image_result[0].url)).size == (512, 512)
    with pytest.raises(APIRequestFailedError, match="model"):
        zai.images.async_generations(model="cogview-4", prompt="a tower")


def test_video_task(zai: ZaiClient) -> None:
    task = zai.videos.generations(
        model="tiny-video", prompt="waves at dusk", size="256x160", fps=8, duration=1
    )
    assert task.task_status == "PROCESSING" and task.id
    result = _poll(lambda: zai.videos.retrieve_videos_result(id=str(task.id)))
    clip = result.video_result[0]
    with av.open(io.BytesIO(_bytes(clip.url))) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
    assert len(frames) == 8 and (frames[0].width, frames[0].height) == (256, 160)
    assert _image(clip.cover_image_url).size == (256, 160)


def _png(width: int, height: int, colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_image_to_video(zai: ZaiClient) -> None:
    start = _png(320, 200, (220, 30, 30))
    task = zai.videos.generations(
        model="tiny-i2v", image_url=start, prompt="make it move", size="256x160", fps=8,
        duration=1,
    )  # fmt: skip
    result = _poll(lambda: zai.videos.retrieve_videos_result(id=str(task.id)))
    assert _image(result.video_result[0].cover_image_url).size == (256, 160)
    with pytest.raises(APIRequestFailedError, match="image_url"):
        zai.videos.generations(model="tiny-i2v", prompt="no image")
    with pytest.raises(APIRequestFailedError, match="text only"):
        zai.videos.generations(model="tiny-video", prompt="x", image_url=start)


def test_video_task_survives_a_gateway_restart(tmp_path: Path, gemma_gguf: Path) -> None:
    # The first gateway runs no task workers: the task waits in the database.
    first = Server(_config(tmp_path, workers=0), tmp_path / "first.log")
    try:
        key = _key(first, "patient")[1]
        client = ZaiClient(api_key=key, base_url=first.zai_base, timeout=600)
        task = client.videos.generations(model="tiny-video", prompt="rain", size="256x160")
    finally:
        first.stop()
    second = Server(_config(tmp_path, workers=1), tmp_path / "second.log")
    try:
        client = ZaiClient(api_key=key, base_url=second.zai_base, timeout=600)
        result = _poll(lambda: client.videos.retrieve_videos_result(id=str(task.id)))
        # the URL names the address the task was submitted to (here another port)
        url = result.video_result[0].url.replace(first.base, second.base)
        with av.open(io.BytesIO(_bytes(url))) as container:
            assert container.streams.video[0].codec_context.width == 256
    finally:
        second.stop()


def test_unsigned_urls_are_the_creating_keys_only(tmp_path: Path, gemma_gguf: Path) -> None:
    """Also: a content filter configured ([safety] keywords) screens prompts (1301)."""
    safety = '[safety]\nkeywords = ["forbiddenword"]\n\n'
    srv = Server(_config(tmp_path, signed=False, safety=safety), tmp_path / "server.log")
    try:
        key = _key(srv, "owner")[1]
        other = _key(srv, "other")[1]
        client = ZaiClient(api_key=key, base_url=srv.zai_base, timeout=600)
        url = str(
            client.images.generations(model="cogview-4", prompt="x", size="512x512").data[0].url
        )
        assert "?" not in url
        assert httpx.get(url, timeout=30).status_code == 404
        r = httpx.get(url, headers={"Authorization": f"Bearer {other}"}, timeout=30)
        assert r.status_code == 404
        assert _image(url, key).size == (512, 512)
        for call in (
            lambda: client.images.generations(model="cogview-4", prompt="a forbiddenword cat"),
            lambda: client.videos.generations(model="tiny-video", prompt="forbiddenword"),
        ):
            with pytest.raises(APIRequestFailedError) as caught:
                call()
            assert caught.value.status_code == 400 and "1301" in str(caught.value)
    finally:
        srv.stop()


def _poll(read: Any) -> Any:
    for _ in range(1200):  # generous: the suite runs under load
        result = read()
        if result.task_status != "PROCESSING":
            assert result.task_status == "SUCCESS", result
            return result
        time.sleep(0.25)
    raise AssertionError("the task did not finish")


def test_remote_workers_through_the_gateway(tmp_path: Path, gemma_gguf: Path) -> None:
    """A glm-image served by two OpenAI-images workers (tests/support/image_worker.py),
    one of them failing: the zai-sdk still gets its image, labelled by the gateway."""
    good, bad = start_worker(FakeWorker()), start_worker(FakeWorker(status=503))
    config = tmp_path / "remote.toml"
    config.write_text(
        f'[platform]\nadmin_key = "{ADMIN}"\ndata_dir = "{tmp_path / "data"}"\n\n'
        '[[images.models]]\ncode = "glm-image"\nengine = "remote"\nsteps = 30\n'
        f'[[images.models.workers]]\nurl = "{bad.url}"\nkind = "openai-images"\n'
        f'[[images.models.workers]]\nurl = "{good.url}"\nkind = "openai-images"\n'
        'model = "zai-org/GLM-Image"\n'
    )
    srv = Server(config, tmp_path / "server.log")
    try:
        client = ZaiClient(api_key=_key(srv, "remote")[1], base_url=srv.zai_base, timeout=600)
        response = client.images.generations(
            model="glm-image", prompt="a poster", size="1568x1056", quality="hd",
            extra_body={"seed": 21},
        )  # fmt: skip
        image = _image(str(response.data[0].url))
        assert image.size == (1568, 1056) and "AIGC" in image.text  # type: ignore[attr-defined]
        assert image.getpixel((0, 0)) == (21, len("a poster"), 9)  # the worker's pixels
        assert good.seen[-1]["model"] == "zai-org/GLM-Image"
        assert good.seen[-1]["num_inference_steps"] == 30 and bad.seen  # failed over
    finally:
        srv.stop()
        for worker in (good, bad):
            assert worker.server is not None
            worker.server.shutdown()
