"""The diffusion engine on tiny real pipelines (tests/support/tiny_diffusion.py): a
CogView4-class image pipeline and a CogVideoX-class video pipeline, each in its own
engine process."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from PIL import Image

from glmserve.engine.diffusion import (
    Clip,
    DiffusionEngine,
    DiffusionFailed,
    DiffusionJob,
    DiffusionSpec,
    Marks,
    Picture,
    pipeline_info,
)
from tests.support.tiny_diffusion import tiny_cogvideox, tiny_cogview4


@pytest.fixture(scope="module")
def image_engine() -> Iterator[DiffusionEngine]:
    engine = DiffusionEngine(DiffusionSpec(tiny_cogview4(), threads=2))
    yield engine
    engine.close()


def _pictures(result: list[Picture] | Clip) -> list[Picture]:
    assert isinstance(result, list)
    return result


def test_folder_names_its_pipeline(tmp_path: Path) -> None:
    assert pipeline_info(tiny_cogview4()).output == "image"
    assert pipeline_info(tiny_cogvideox()).output == "video"
    (tmp_path / "model_index.json").write_text(json.dumps({"_class_name": "FluxPipeline"}))
    with pytest.raises(ValueError, match="FluxPipeline"):
        pipeline_info(tmp_path)
    with pytest.raises(ValueError, match=r"model_index\.json"):
        pipeline_info(tmp_path / "nothing")


async def test_images_are_seeded_sized_and_prompt_dependent(image_engine: DiffusionEngine) -> None:
    assert image_engine.pid is None  # loaded on the first request
    seen: list[tuple[int, int]] = []
    job = DiffusionJob("a watercolor fox", width=512, height=384, steps=3, seed=7)
    first = _pictures(await image_engine.generate(job, lambda d, t: seen.append((d, t))))
    assert image_engine.pid is not None
    again = _pictures(await image_engine.generate(job))
    other = _pictures(await image_engine.generate(DiffusionJob("a red car", 512, 384, 3, 7)))
    reseeded = _pictures(
        await image_engine.generate(DiffusionJob("a watercolor fox", 512, 384, 3, 8))
    )
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert first[0].png == again[0].png
    assert first[0].png != other[0].png
    assert first[0].png != reseeded[0].png
    image = Image.open(io.BytesIO(first[0].png))
    assert image.format == "PNG" and image.size == (512, 384)
    assert image_engine.stats().generations == 4


async def test_marks_and_several_images(image_engine: DiffusionEngine) -> None:
    marks = Marks("AI generated", (("AIGC", '{"Label": "1"}'),))
    plain = _pictures(await image_engine.generate(DiffusionJob("a boat", 256, 256, 2, 1)))
    marked = _pictures(
        await image_engine.generate(DiffusionJob("a boat", 256, 256, 2, 1, marks=marks))
    )
    two = _pictures(await image_engine.generate(DiffusionJob("a boat", 256, 256, 1, 1, count=2)))
    assert len(two) == 2 and two[0].png != two[1].png
    with_mark = Image.open(io.BytesIO(marked[0].png))
    without = Image.open(io.BytesIO(plain[0].png))
    assert with_mark.text == {"AIGC": '{"Label": "1"}'}  # type: ignore[attr-defined]
    assert without.text == {}  # type: ignore[attr-defined]
    # the label changes the bottom-right corner only
    corner = (156, 236, 256, 256)
    assert with_mark.crop(corner).tobytes() != without.crop(corner).tobytes()
    assert with_mark.crop((0, 0, 128, 128)).tobytes() == without.crop((0, 0, 128, 128)).tobytes()


async def test_queued_jobs_run_one_at_a_time(image_engine: DiffusionEngine) -> None:
    jobs = [DiffusionJob(f"prompt {i}", 256, 256, 2, i) for i in range(3)]
    results = await asyncio.gather(*(image_engine.generate(j) for j in jobs))
    assert len({_pictures(r)[0].png for r in results}) == 3


async def test_a_dead_process_fails_its_job_and_restarts(image_engine: DiffusionEngine) -> None:
    await image_engine.generate(DiffusionJob("warm", 256, 256, 1, 1))
    restarts = image_engine.restarts
    task = asyncio.ensure_future(image_engine.generate(DiffusionJob("doomed", 1024, 1024, 50, 1)))
    for _ in range(600):
        if image_engine.stats().steps_done:
            break
        await asyncio.sleep(0.05)
    image_engine._proc.kill()
    with pytest.raises(DiffusionFailed, match="died"):
        await task
    pictures = _pictures(await image_engine.generate(DiffusionJob("after", 256, 256, 1, 1)))
    assert pictures[0].width == 256
    assert image_engine.restarts == restarts + 1


async def test_video_clip() -> None:
    engine = DiffusionEngine(DiffusionSpec(tiny_cogvideox(), threads=2))
    try:
        job = DiffusionJob(
            "waves at dusk", width=256, height=160, steps=2, seed=3, fps=30, duration=1.0, frames=9
        )
        clip = await engine.generate(job)
    finally:
        engine.close()
    assert isinstance(clip, Clip)
    with av.open(io.BytesIO(clip.mp4)) as container:
        stream = container.streams.video[0]
        frames = list(container.decode(stream))
        assert (stream.codec_context.width, stream.codec_context.height) == (256, 160)
    assert len(frames) == clip.frames == 30
    cover = Image.open(io.BytesIO(clip.cover_png))
    assert cover.size == (256, 160)
