"""Vision end to end: a server with the tiny vision model (tests/support/tiny_vision.py)
and real clients (zai-sdk, openai, anthropic), images from data URLs, bare base64 and a
local HTTP server; video frames and PDF pages; the fetch policy and the limits."""

from __future__ import annotations

import base64
import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import anthropic
import av
import httpx
import numpy as np
import pypdfium2 as pdfium
import pytest
from openai import OpenAI
from PIL import Image
from zai import ZaiClient

from tests.conftest import Server
from tests.support.tiny_vision import IMAGE_TOKENS, build

MODEL = "glm-4.6v"


def _png(seed: int, width: int = 48, height: int = 40, noise: bool = True) -> bytes:
    rng = np.random.default_rng(seed)
    if noise:
        pixels = rng.integers(0, 256, (height, width, 3), np.uint8)
    else:
        pixels = np.full((height, width, 3), seed % 256, np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def _mp4(seconds: int = 3, fps: int = 4) -> bytes:
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(seconds * fps):
            pixels = np.full((32, 32, 3), (i * 20) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


def _pdf(pages: int) -> bytes:
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(200, 100)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


class _Files(BaseHTTPRequestHandler):
    routes: ClassVar[dict[str, tuple[str, bytes]]] = {}

    def do_GET(self) -> None:
        if self.path.startswith("/redirect"):
            self.send_response(302)
            self.send_header("Location", "/a.png")
            self.end_headers()
            return
        content_type, body = self.routes.get(self.path, ("text/plain", b"missing"))
        self.send_response(200 if self.path in self.routes else 404)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def files() -> Iterator[str]:
    _Files.routes = {
        "/a.png": ("image/png", _png(1)),
        "/page.html": ("text/html", b"<html>not an image</html>"),
        "/clip.mp4": ("video/mp4", _mp4()),
        "/doc.pdf": ("application/pdf", _pdf(2)),
    }
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _start(tmp: Path, media: str) -> Server:
    model, mmproj = build(tmp / "model")
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n'
        f"[media]\n{media}\n"
        f'[[models]]\ncode = "{MODEL}"\ngguf = "{model}"\nmmproj = "{mmproj}"\n'
        "context_size = 1024\nmax_running = 2\nbatch_invariant = true\n\n"
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{model}"\ncontext_size = 512\nmax_running = 1\n\n'
        f'[[models]]\ncode = "glm-4.6v-flash"\ngguf = "{model}"\ncontext_size = 512\n'
        "max_running = 1\n"
    )
    return Server(config, tmp / "server.log")


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Fetches from private addresses (the local file server) are allowed here."""
    server = _start(tmp_path_factory.mktemp("vision-open"), "allow_private_urls = true")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The default fetch policy, and small limits to test them."""
    limits = (
        "max_image_bytes = 20000\nmax_image_pixels = 250000\nmax_images = 4\n"
        "max_total_pixels = 400000"
    )
    server = _start(tmp_path_factory.mktemp("vision-strict"), limits)
    yield server
    server.stop()


def _zai(server: Server) -> ZaiClient:
    return ZaiClient(api_key="test-id.test-secret", base_url=server.zai_base)


def _user(*parts: dict[str, Any], text: str = "What is in this picture?") -> list[dict[str, Any]]:
    return [{"role": "user", "content": [*parts, {"type": "text", "text": text}]}]


def _image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def _data_url(data: bytes, kind: str = "image/png") -> str:
    return f"data:{kind};base64,{base64.b64encode(data).decode()}"


def _chat(server: Server, messages: list[dict[str, Any]], model: str = MODEL) -> httpx.Response:
    body = {"model": model, "messages": messages, "max_tokens": 8, "do_sample": False}
    return httpx.post(f"{server.zai_base}chat/completions", json=body, timeout=120)


def _tokenizer(server: Server, messages: list[dict[str, Any]]) -> dict[str, int]:
    r = httpx.post(
        f"{server.zai_base}tokenizer", json={"model": MODEL, "messages": messages}, timeout=60
    )
    assert r.status_code == 200, r.text
    usage: dict[str, int] = r.json()["usage"]
    return usage


def _error(r: httpx.Response, code: str) -> str:
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == code, error
    message: str = error["message"]
    return message


# -- clients ---------------------------------------------------------------------------


def test_zai_sdk_data_url_and_fetched_url_give_the_same_prompt_and_answer(
    open_server: Server, files: str
) -> None:
    client = _zai(open_server)
    by_data = _user(_image(_data_url(_png(1))))  # the SDK sends it as bare base64
    by_url = _user(_image(f"{files}/a.png"))
    first = client.chat.completions.create(
        model=MODEL, messages=by_data, max_tokens=8, temperature=0
    )
    second = client.chat.completions.create(
        model=MODEL, messages=by_url, max_tokens=8, temperature=0
    )
    assert first.usage.prompt_tokens == second.usage.prompt_tokens
    assert first.choices[0].message == second.choices[0].message
    count = _tokenizer(open_server, by_url)
    assert count["image_tokens"] == IMAGE_TOKENS and count["video_tokens"] == 0
    assert count["prompt_tokens"] == first.usage.prompt_tokens
    # A second, identical request reads the image from the prefix cache.
    again = client.chat.completions.create(
        model=MODEL, messages=by_url, max_tokens=8, temperature=0
    )
    assert again.usage.prompt_tokens_details.cached_tokens > IMAGE_TOKENS


def test_a_redirect_is_followed_and_checked(open_server: Server, files: str) -> None:
    r = _chat(open_server, _user(_image(f"{files}/redirect")))
    assert r.status_code == 200, r.text


def test_several_images_in_a_message_and_across_the_conversation(open_server: Server) -> None:
    one = _tokenizer(open_server, _user(_image(_data_url(_png(2)))))
    messages = [
        *_user(_image(_data_url(_png(2))), _image(_data_url(_png(3, 100, 30)))),
        {"role": "assistant", "content": "Two pictures."},
        *_user(_image(_data_url(_png(4, 7, 9))), text="And this one?"),
    ]
    count = _tokenizer(open_server, messages)
    assert count["image_tokens"] == 3 * IMAGE_TOKENS
    assert count["prompt_tokens"] > one["prompt_tokens"] + 2 * IMAGE_TOKENS
    r = _chat(open_server, messages)
    assert r.status_code == 200, r.text
    assert r.json()["usage"]["prompt_tokens"] == count["prompt_tokens"]


def test_different_images_give_different_answers(open_server: Server) -> None:
    answers = {
        _chat(open_server, _user(_image(_data_url(_png(seed))))).json()["choices"][0]["message"][
            "content"
        ]
        for seed in (5, 6)
    }
    assert len(answers) == 2


def test_openai_sdk_image_url(open_server: Server) -> None:
    client = OpenAI(api_key="x", base_url=open_server.zai_base)
    reply = client.chat.completions.create(
        model=MODEL,
        messages=_user(_image(_data_url(_png(7)))),  # type: ignore[arg-type]
        max_tokens=8,
        temperature=0,
    )
    assert reply.usage is not None
    assert (
        reply.usage.prompt_tokens
        == _tokenizer(open_server, _user(_image(_data_url(_png(7)))))["prompt_tokens"]
    )


def test_anthropic_sdk_image_blocks(open_server: Server, files: str) -> None:
    client = anthropic.Anthropic(api_key="any", base_url=f"{open_server.base}/api/anthropic")
    data = base64.b64encode(_png(1)).decode()
    sources: list[dict[str, Any]] = [
        {"type": "base64", "media_type": "image/png", "data": data},
        {"type": "url", "url": f"{files}/a.png"},
    ]
    usages = []
    for source in sources:
        reply = client.messages.create(
            model=MODEL,
            max_tokens=8,
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": source},  # type: ignore[misc]
                        {"type": "text", "text": "What is in this picture?"},
                    ],
                }
            ],
        )
        # input_tokens leaves out what was read from the cache, as Anthropic's does
        usages.append(reply.usage.input_tokens + (reply.usage.cache_read_input_tokens or 0))
    assert usages[0] == usages[1] > IMAGE_TOKENS


def test_video_frames_and_pdf_pages(open_server: Server, files: str) -> None:
    video = {"type": "video_url", "video_url": {"url": f"{files}/clip.mp4"}}
    count = _tokenizer(open_server, _user(video))
    assert count["video_tokens"] == 3 * IMAGE_TOKENS  # 3 seconds at 1 frame a second
    assert count["image_tokens"] == 0
    pdf = {"type": "file_url", "file_url": {"url": f"{files}/doc.pdf"}}
    count = _tokenizer(open_server, _user(pdf))
    assert count["image_tokens"] == 2 * IMAGE_TOKENS  # one image a page
    assert _chat(open_server, _user(pdf)).status_code == 200


# -- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/a.png", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
        # IPv6 forms of loopback and the metadata address: IPv4-compatible, SIIT, NAT64,
        # local-use NAT64, 6to4
        "http://[::7f00:1]/", "http://[::ffff:0:a9fe:a9fe]/", "http://[64:ff9b::7f00:1]/",
        "http://[64:ff9b:1:a9fe:a9:fe00::]/", "http://[2002:7f00:1::1]/",
    ],
)  # fmt: skip
def test_private_addresses_are_refused_by_default(strict_server: Server, url: str) -> None:
    message = _error(_chat(strict_server, _user(_image(url))), "1214")
    assert "non-public address" in message and "image_url.url" in message


def test_a_local_file_server_is_refused_by_default(strict_server: Server, files: str) -> None:
    message = _error(_chat(strict_server, _user(_image(f"{files}/a.png"))), "1214")
    assert "non-public address" in message
    # by name: the answer names the host, not the addresses it resolves to
    by_name = files.replace("127.0.0.1", "localhost")
    message = _error(_chat(strict_server, _user(_image(f"{by_name}/a.png"))), "1214")
    assert "host localhost" in message and "127.0.0.1" not in message and "::1" not in message


def test_limits_and_bad_images(strict_server: Server, open_server: Server, files: str) -> None:
    big = _error(_chat(strict_server, _user(_image(_data_url(_png(8, 120, 120))))), "1214")
    assert "larger than 20000 bytes" in big
    wide = _png(9, 600, 500, noise=False)  # small file, too many pixels
    assert "more than 250000" in _error(
        _chat(strict_server, _user(_image(_data_url(wide)))), "1214"
    )
    five = [_image(_data_url(_png(s, 8, 8))) for s in range(5)]
    assert "more than 4 images" in _error(_chat(strict_server, _user(*five)), "1210")
    three = [_image(_data_url(_png(20 + s, 400, 400, noise=False))) for s in range(3)]
    assert "pixels in all" in _error(_chat(strict_server, _user(*three)), "1210")
    broken = _error(
        _chat(strict_server, _user(_image("data:image/png;base64,@@@not-base64"))), "1214"
    )
    assert "base64" in broken
    text = _data_url(b"hello", "text/plain")
    assert "type is text/plain" in _error(_chat(strict_server, _user(_image(text))), "1214")
    not_png = _data_url(b"\x89PNG but not really", "image/png")
    assert "not an image" in _error(_chat(strict_server, _user(_image(not_png))), "1214")
    html = _error(_chat(open_server, _user(_image(f"{files}/page.html"))), "1214")
    assert "content type is text/html" in html


def test_models_that_cannot_see_refuse_media(strict_server: Server) -> None:
    picture = _user(_image(_data_url(_png(10, 8, 8))))
    assert "text only" in _error(_chat(strict_server, picture, "glm-4.7"), "1214")
    # A vision model of the catalog served without a projector: refused, never dropped.
    assert "mmproj" in _error(_chat(strict_server, picture, "glm-4.6v-flash"), "1214")
    ok = _chat(strict_server, [{"role": "user", "content": "hello"}], "glm-4.6v-flash")
    assert ok.status_code == 200, ok.text
