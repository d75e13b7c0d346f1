"""The console's Images page and the media tasks on its tasks page, in a real headless
Chromium against a real glmserve serving tiny diffusers pipelines
(tests/support/tiny_diffusion.py), as tests/e2e/test_images.py configures them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.e2e.console.conftest import shot, sign_in
from tests.support.tiny_diffusion import tiny_cogvideox, tiny_cogview4

ADMIN = "console-images-admin-key-0123456789"


@pytest.fixture(scope="module")
def media_server(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[Server]:
    # gemma_gguf: the embedded default chat model the server also serves.
    tmp = tmp_path_factory.mktemp("console-images")
    image, video = tiny_cogview4(), tiny_cogvideox()
    config = tmp / "glmserve.toml"
    config.write_text(
        f'[platform]\nadmin_key = "{ADMIN}"\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[images.models]]\ncode = "cogview-4"\npath = "{image}"\n'
        "steps = 1\nfast_steps = 1\nthreads = 2\n\n"
        f'[[images.models]]\ncode = "tiny-video"\npath = "{video}"\n'
        "steps = 1\nfast_steps = 1\nthreads = 2\nframes = 9\n"
    )
    server = Server(config, tmp / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def painter(media_server: Server) -> str:
    r = httpx.post(
        f"{media_server.base}/admin/keys",
        json={"name": "painter", "tier": "V3", "balance": 5},
        headers={"Authorization": f"Bearer {ADMIN}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["api_key"])


def _loaded(page: Any) -> list[int]:
    page.wait_for_function(
        "() => { const i = document.querySelector('#image-result');"
        " return i && i.complete && i.naturalWidth > 0; }",
        timeout=600_000,
    )
    size: list[int] = page.evaluate(
        "() => { const i = document.querySelector('#image-result');"
        " return [i.naturalWidth, i.naturalHeight]; }"
    )
    return size


def test_images_page_generates_an_image_of_the_size_asked_for(
    page: Any, media_server: Server, painter: str
) -> None:
    sign_in(page, media_server, painter, "images")
    models = page.eval_on_selector_all("#image-model option", "os => os.map(o => o.value)")
    assert models == ["cogview-4"]  # the image models only, not the video one
    # The model's documented sizes are offered, its default chosen; others may be typed.
    sizes = page.eval_on_selector_all("#image-sizes option", "os => os.map(o => o.value)")
    assert "1024x1024" in sizes and len(sizes) > 1
    assert page.input_value("#image-size") in sizes
    page.fill("#image-size", "512x768")
    page.fill("#image-prompt", "a watercolor fox")
    page.click("#image-generate")
    assert _loaded(page) == [512, 768]
    assert page.text_content("#image-error") == ""
    href = page.get_attribute("#image-link", "href")
    assert href and "/media/" in href
    shot(page, "images")

    # An error shows as the other pages show theirs: the Z.AI message and its code.
    page.fill("#image-prompt", "")
    page.click("#image-generate")
    page.wait_for_selector("#image-error:not(:empty)")
    assert "(code 1214)" in page.text_content("#image-error")


def test_tasks_page_lists_a_video_task_with_its_result(
    page: Any, media_server: Server, painter: str
) -> None:
    headers = {"Authorization": f"Bearer {painter}"}
    api = media_server.base + "/api/paas/v4"
    r = httpx.post(
        f"{api}/videos/generations",
        json={"model": "tiny-video", "prompt": "waves at dusk", "size": "256x160", "fps": 8},
        headers=headers,
        timeout=60,
    )
    assert r.status_code == 200, r.text
    task = r.json()["id"]
    deadline = time.monotonic() + 600
    status = "PROCESSING"
    while status == "PROCESSING" and time.monotonic() < deadline:
        got = httpx.get(f"{api}/async-result/{task}", headers=headers, timeout=60).json()
        status = got["task_status"]
        time.sleep(0.2)
    assert status == "SUCCESS", got

    sign_in(page, media_server, painter, "tasks")
    row = page.locator(f"tr[data-task='{task}']")
    row.wait_for()
    assert row.locator(".badge").text_content() == "SUCCESS"
    link = row.locator("a[data-result='video']")
    link.wait_for()
    assert link.get_attribute("href") == got["video_result"][0]["url"]
    page.wait_for_function(
        f"() => {{ const i = document.querySelector(\"tr[data-task='{task}'] img.thumb\");"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    cover = row.locator("img.thumb").evaluate("i => [i.naturalWidth, i.naturalHeight]")
    assert cover == [256, 160]
    shot(page, "tasks-video")
