"""Image generation on remote workers speaking OpenAI's ``POST /v1/images/generations``
(vLLM-Omni, SGLang diffusion; docs/images.md, "Remote workers").

Each job goes to the next worker in turn that is not resting; a worker that cannot be
reached or answers 5xx rests for a while and the job fails over to the next one. A 4xx
is the request's fault and is not retried. Images come back as ``b64_json`` and are
labelled here as embedded ones are (encode.py).
"""

from __future__ import annotations

import base64
import binascii
import io
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from PIL import Image, UnidentifiedImageError

from glmserve.engine.diffusion.encode import encode_picture
from glmserve.engine.diffusion.engine import DiffusionStats
from glmserve.engine.diffusion.types import (
    Clip,
    DiffusionBusy,
    DiffusionFailed,
    DiffusionJob,
    OnProgress,
    Picture,
)

__all__ = ["RemoteImageEngine"]

_REST_SECONDS = 10.0
_TIMEOUT = httpx.Timeout(600.0, connect=10.0)


@dataclass
class _Worker:
    url: str
    model: str
    api_key: str | None
    resting_until: float = 0.0
    failures: int = 0


class RemoteImageEngine:
    kind = "remote"

    def __init__(
        self,
        code: str,
        workers: Sequence[Any],
        *,
        queue_limit: int = 16,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if not workers:
            raise ValueError("a remote image model needs at least one worker")
        self.workers = [_Worker(w.url.rstrip("/"), w.model or code, w.api_key) for w in workers]
        self.queue_limit = queue_limit
        self._turn = itertools.count()
        self._transport = transport
        self._running = 0
        self._generations = 0

    async def generate(
        self, job: DiffusionJob, on_progress: OnProgress | None = None
    ) -> list[Picture] | Clip:
        if job.image is not None:
            raise DiffusionFailed("the OpenAI images API starts from text only")
        if self._running > self.queue_limit:
            raise DiffusionBusy()
        self._running += 1
        try:
            pictures = await self._failover(job)
        finally:
            self._running -= 1
        self._generations += 1
        if on_progress is not None:
            on_progress(job.steps, job.steps)
        return pictures

    def stats(self) -> DiffusionStats:
        return DiffusionStats(
            loaded=True,
            running=self._running,
            steps_done=0,
            steps_total=0,
            generations=self._generations,
            restarts=0,
        )

    def close(self) -> None:
        """Nothing held: each job opens its own connection (a generation takes
        seconds; reusing a connection would save nothing worth a client per loop)."""

    # -- one job --

    async def _failover(self, job: DiffusionJob) -> list[Picture]:
        errors: list[str] = []
        for worker in self._order():
            try:
                return await self._ask(worker, job)
            except _WorkerDown as exc:
                worker.failures += 1
                worker.resting_until = time.monotonic() + _REST_SECONDS
                errors.append(f"{worker.url}: {exc}")
        raise DiffusionFailed("no image worker answered (" + "; ".join(errors) + ")")

    def _order(self) -> list[_Worker]:
        start = next(self._turn) % len(self.workers)
        turn = self.workers[start:] + self.workers[:start]
        now = time.monotonic()
        awake = [w for w in turn if w.resting_until <= now]
        return awake + [w for w in turn if w.resting_until > now]  # resting ones last

    async def _ask(self, worker: _Worker, job: DiffusionJob) -> list[Picture]:
        body: dict[str, Any] = {
            "model": worker.model,
            "prompt": job.prompt,
            "n": job.count,
            "size": f"{job.width}x{job.height}",
            "response_format": "b64_json",
            "seed": job.seed,
            "num_inference_steps": job.steps,
        }
        if job.guidance is not None:
            body["guidance_scale"] = job.guidance
        headers = {"Authorization": f"Bearer {worker.api_key}"} if worker.api_key else {}
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT, transport=self._transport) as http:
                response = await http.post(
                    worker.url + "/v1/images/generations", json=body, headers=headers
                )
        except httpx.HTTPError as exc:
            raise _WorkerDown(f"{type(exc).__name__}: {exc}") from None
        if response.status_code >= 500:
            raise _WorkerDown(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise DiffusionFailed(f"the worker refused the request: {_message(response)}")
        worker.failures = 0
        return [encode_picture(image, job.marks) for image in _images(response)]


class _WorkerDown(Exception):
    pass


def _message(response: httpx.Response) -> str:
    try:
        error = response.json().get("error")
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(error, dict):
        return str(error.get("message") or response.status_code)
    return str(error or response.status_code)


def _images(response: httpx.Response) -> list[Image.Image]:
    try:
        data = response.json()["data"]
        images: list[Image.Image] = [
            Image.open(io.BytesIO(base64.b64decode(item["b64_json"], validate=True)))
            for item in data
        ]
        for image in images:
            image.load()
    except (ValueError, KeyError, TypeError, binascii.Error, UnidentifiedImageError) as exc:
        raise DiffusionFailed(f"the worker's answer holds no image: {exc}") from None
    if not images:
        raise DiffusionFailed("the worker's answer holds no image")
    return images
