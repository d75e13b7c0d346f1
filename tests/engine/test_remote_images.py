"""The remote image engine against workers speaking OpenAI's images API as vLLM-Omni and
SGLang diffusion document it. Neither server installs on this machine (they need a GPU
build), so the worker is a small real HTTP server answering in that wire format
(tests/support/image_worker.py)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from PIL import Image

from glmserve.config.images import ImageWorkerConfig
from glmserve.engine.diffusion import DiffusionFailed, DiffusionJob, Marks, Picture
from glmserve.engine.diffusion.remote import RemoteImageEngine
from tests.conftest import free_port
from tests.support.image_worker import FakeWorker, start_worker


@pytest.fixture
def workers() -> Iterator[list[FakeWorker]]:
    started = [start_worker(FakeWorker()), start_worker(FakeWorker())]
    yield started
    for worker in started:
        assert worker.server is not None
        worker.server.shutdown()


def _engine(*urls: str, key: str | None = None) -> RemoteImageEngine:
    return RemoteImageEngine(
        "glm-image",
        [ImageWorkerConfig(url, model="zai-org/GLM-Image", api_key=key) for url in urls],
    )


def _pictures(result: object) -> list[Picture]:
    assert isinstance(result, list)
    return result


async def test_wire_format_and_marks(workers: list[FakeWorker]) -> None:
    engine = _engine(workers[0].url, key="worker-secret")
    marks = Marks("AI generated", (("AIGC", "{}"),))
    job = DiffusionJob("a tower", 640, 480, 30, 7, count=2, guidance=4.0, marks=marks)
    pictures = _pictures(await engine.generate(job))
    assert workers[0].seen == [
        {
            "model": "zai-org/GLM-Image",
            "prompt": "a tower",
            "n": 2,
            "size": "640x480",
            "response_format": "b64_json",
            "seed": 7,
            "num_inference_steps": 30,
            "guidance_scale": 4.0,
        }
    ]
    assert workers[0].headers == ["Bearer worker-secret"]
    assert len(pictures) == 2
    image = Image.open(io.BytesIO(pictures[0].png))
    assert image.size == (640, 480) and image.text == {"AIGC": "{}"}  # type: ignore[attr-defined]
    assert image.getpixel((0, 0)) == (7, 7, 9)  # the worker's pixels, away from the label


async def test_jobs_take_turns_and_fail_over(workers: list[FakeWorker]) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nobody listens there
    engine = _engine(workers[0].url, dead, workers[1].url)
    for seed in range(6):
        _pictures(await engine.generate(DiffusionJob("x", 64, 64, 1, seed)))
    # both live workers served, the dead one was skipped (it rests after its failure)
    assert len(workers[0].seen) + len(workers[1].seen) == 6
    assert workers[0].seen and workers[1].seen
    workers[1].status = 503
    for seed in range(3):
        _pictures(await engine.generate(DiffusionJob("x", 64, 64, 1, seed)))
    assert engine.stats().generations == 9


async def test_a_refusal_is_not_retried_and_all_down_fails(workers: list[FakeWorker]) -> None:
    workers[0].status = 400
    engine = _engine(workers[0].url, workers[1].url)
    with pytest.raises(DiffusionFailed, match="worker trouble"):
        await engine.generate(DiffusionJob("x", 64, 64, 1, 0))
    assert len(workers[0].seen) + len(workers[1].seen) == 1
    workers[0].status = workers[1].status = 500
    with pytest.raises(DiffusionFailed, match="no image worker answered"):
        await engine.generate(DiffusionJob("x", 64, 64, 1, 1))
