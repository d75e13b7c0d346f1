"""The engine process of a diffusers pipeline: load the folder's pipeline, then run one
generation at a time as jobs arrive over the pipe.

Messages in: ``("run", job_id, DiffusionJob)``, ``("cancel", job_id)``, ``("close",)``.
Out: ``("ready", info)`` once loaded, then per job ``("progress", id, done, total)``
after each denoising step and ``("done", id, [Picture] | Clip)`` or ``("error", id,
message)``. Jobs that arrive while one runs wait in order; a cancel read between two
steps interrupts the running job (the pipelines check ``interrupt`` each step).
"""

from __future__ import annotations

import logging
import signal
from collections import deque
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from glmserve.engine.diffusion.encode import encode_clip, encode_picture
from glmserve.engine.diffusion.folder import pipeline_info
from glmserve.engine.diffusion.types import Clip, DiffusionJob, Picture, PipelineInfo

__all__ = ["DiffusionSpec", "child_main"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DiffusionSpec:
    """What the engine process needs to load the pipeline (picklable)."""

    path: Path
    device: str = "cpu"
    dtype: str = "float32"
    threads: int = 0
    """CPU threads torch may use (0: torch's default)."""


class _Cancelled(Exception):
    pass


class _Runner:
    def __init__(self, conn: Connection, spec: DiffusionSpec, info: PipelineInfo) -> None:
        import torch
        from diffusers import DiffusionPipeline

        if spec.threads:
            torch.set_num_threads(spec.threads)
        self._torch = torch
        self.conn = conn
        self.info = info
        self.spec = spec
        dtype = getattr(torch, spec.dtype)
        self.pipe: Any = DiffusionPipeline.from_pretrained(str(spec.path), torch_dtype=dtype)
        self.pipe.to(spec.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.waiting: deque[tuple[int, DiffusionJob]] = deque()
        self.cancelled: set[int] = set()
        self.closing = False

    def read(self, block: bool) -> None:
        """Take the messages waiting on the pipe (at least one when ``block``)."""
        while block or self.conn.poll(0):
            block = False
            try:
                message = self.conn.recv()
            except EOFError:
                self.closing = True
                return
            if message[0] == "run":
                self.waiting.append((message[1], message[2]))
            elif message[0] == "cancel":
                self.cancelled.add(message[1])
            else:
                self.closing = True

    def serve(self) -> None:
        while not self.closing:
            if not self.waiting:
                self.read(block=True)
                continue
            job_id, job = self.waiting.popleft()
            if job_id in self.cancelled:
                self.cancelled.discard(job_id)
                self.conn.send(("error", job_id, "cancelled"))
                continue
            try:
                result = self.run(job_id, job)
            except _Cancelled:
                self.conn.send(("error", job_id, "cancelled"))
            except Exception as exc:
                log.exception("generation failed")
                self.conn.send(("error", job_id, f"{type(exc).__name__}: {exc}"))
            else:
                self.conn.send(("done", job_id, result))
            self.cancelled.discard(job_id)

    def run(self, job_id: int, job: DiffusionJob) -> list[Picture] | Clip:
        torch = self._torch
        steps = job.steps

        def step_end(pipe: Any, step: int, timestep: Any, tensors: dict[str, Any]) -> Any:
            self.conn.send(("progress", job_id, step + 1, steps))
            self.read(block=False)
            if job_id in self.cancelled or self.closing:
                pipe._interrupt = True
            return tensors

        generator = torch.Generator(device="cpu").manual_seed(job.seed)
        args: dict[str, Any] = {
            "prompt": job.prompt,
            "width": job.width,
            "height": job.height,
            "num_inference_steps": steps,
            "generator": generator,
            "callback_on_step_end": step_end,
        }
        if job.guidance is not None:
            args["guidance_scale"] = job.guidance
        if job.image is not None:
            from PIL import Image

            size = (job.image.width, job.image.height)
            args["image"] = Image.frombytes("RGB", size, job.image.rgb)
        if self.info.output == "video":
            if job.frames is not None:
                args["num_frames"] = job.frames
            output = self.pipe(**args)
            if job_id in self.cancelled:
                raise _Cancelled()
            return encode_clip(output.frames[0], job.fps, job.duration, job.marks)
        args["num_images_per_prompt"] = job.count
        output = self.pipe(**args)
        if job_id in self.cancelled:
            raise _Cancelled()
        return [encode_picture(image, job.marks) for image in output.images]


def child_main(conn: Connection, spec: DiffusionSpec) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    try:
        info = pipeline_info(spec.path)
        runner = _Runner(conn, spec, info)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", {"class_name": info.class_name}))
    runner.serve()
