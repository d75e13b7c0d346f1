"""Image and video generation, independent of HTTP (docs/images.md): a request checked
against its model's catalog entry, admitted and billed per image or video, generated on
the model's engine, its results stored as files and answered with their URLs.

``ImageService.images`` is ``POST /images/generations``; ``image_task`` and
``video_task`` check and store ``POST /async/images/generations`` and ``POST
/videos/generations`` as tasks the platform's workers run with ``run`` (through
the job table, kind "images"); ``GET /async-result/{id}`` then reads what ``run``
stored.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Mapping
from typing import Any, Literal

from glmserve.catalog import MediaSpec
from glmserve.config.images import ImageSettings
from glmserve.config.media import MediaSettings
from glmserve.engine.diffusion import (
    Clip,
    DiffusionBusy,
    DiffusionFailed,
    DiffusionJob,
    Picture,
)
from glmserve.engine.media import ImageInput
from glmserve.errors import (
    EngineFailure,
    GlmServeError,
    HighTraffic,
    InvalidField,
    SensitiveContent,
)
from glmserve.platform.admission import Admitted, Attempt
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.platform.tasks import TaskOutcome, status_body
from glmserve.protocol.images import (
    ImageRequest,
    VideoRequest,
    parse_image_request,
    parse_video_request,
)
from glmserve.protocol.responses import error_body
from glmserve.safety import SAFE, SafetyPolicy, Verdict
from glmserve.serving.images import checks
from glmserve.serving.images.models import MediaModels, ServedMedia
from glmserve.serving.images.results import MediaResults
from glmserve.serving.images.work import MediaWork, unit_price
from glmserve.serving.media.loader import MediaLoader
from glmserve.serving.run.content_filter import content_filter_body
from glmserve.store import TaskRow

__all__ = ["IMAGES_KIND", "ImageService", "TASK_MARK"]

log = logging.getLogger(__name__)

IMAGES_KIND = "images"
"""The job table's kind of image and video tasks (their rows' ``endpoint``)."""
TASK_MARK = "glmserve_task"
"""The key of a stored task body that says whether it is an image or a video task."""


class ImageService:
    def __init__(
        self,
        models: MediaModels,
        settings: ImageSettings,
        media: MediaSettings,
        content_filter: SafetyPolicy | None = None,
    ) -> None:
        self.models = models
        self.settings = settings
        self._filter = content_filter
        """The configured content safety ([safety]): prompts are screened as chat
        input is; a blocked one is a 1301 (docs/images.md, "Content safety")."""
        self._loader = MediaLoader(media)
        self._results: MediaResults | None = None

    def bind(self, results: MediaResults) -> None:
        """Where results are stored (the platform's files, made after this service)."""
        self._results = results

    @property
    def results(self) -> MediaResults:
        assert self._results is not None, "ImageService.bind was not called"
        return self._results

    # -- POST /images/generations --

    async def images(self, body: Mapping[str, Any], metered: Attempt, base: str) -> dict[str, Any]:
        request = parse_image_request(body)
        metered.describe(request.model, request.request_id)
        served, spec = self._model(request.model, "image")
        job = self._image_job(served, spec, request, metered.record_id)
        verdict = await self._screen(request.prompt)
        pictures = await self._generate(served, request.model, request, job, metered)
        assert isinstance(pictures, list)
        if request.response_format == "b64_json":
            data = [{"b64_json": base64.b64encode(p.png).decode()} for p in pictures]
        else:
            data = [{"url": await self._stored(metered, base, p.png, "png")} for p in pictures]
        answer: dict[str, Any] = {"created": now_seconds(), "data": data}
        flags = content_filter_body([("user", verdict)])
        if flags:
            answer["content_filter"] = flags
        return answer

    # -- tasks --

    async def image_task(self, key_id: str, body: Mapping[str, Any], base: str) -> TaskRow:
        """The stored form of an async image request, checked now (a bad one is a 400)."""
        request = parse_image_request(body)
        served, spec = self._model(request.model, "image")
        if not spec.async_images:
            raise InvalidField(
                "model", f"{request.model} is not generated asynchronously; use /images/generations"
            )
        self._image_job(served, spec, request, "")
        await self._screen(request.prompt)
        return self._task_row(key_id, "image", body, base, request.model, request.request_id)

    async def video_task(self, key_id: str, body: Mapping[str, Any], base: str) -> TaskRow:
        request = parse_video_request(body)
        served, spec = self._model(request.model, "video")
        await self._video_job(served, spec, request, "")
        await self._screen(request.prompt)
        return self._task_row(key_id, "video", body, base, request.model, request.request_id)

    async def run(self, row: TaskRow, attempt: Attempt) -> TaskOutcome:
        stored = json.loads(row.request_json)
        kind, body, base = stored[TASK_MARK], stored["body"], stored["base"]
        attempt.kind = kind
        try:
            if kind == "image":
                return await self._run_image(row, attempt, body, base)
            return await self._run_video(row, attempt, body, base)
        except GlmServeError as exc:
            return "FAIL", self.failed(row, exc), exc

    def failed(self, row: TaskRow, error: GlmServeError) -> dict[str, Any]:
        return {**status_body(row), "task_status": "FAIL", **error_body(error)}

    # -- listing and lifecycle --

    def model_entries(self) -> list[dict[str, Any]]:
        """``/models`` entries of the image and video codes."""
        return [
            {
                "id": code,
                "object": "model",
                "created": served.created,
                "owned_by": "glmserve",
                "type": served.output,
                "served_by": served.config.code,
                "engine": served.config.engine,
                "sizes": list(served.spec(code).sizes),
                "default_size": served.spec(code).default_size,
            }
            for code, served in self.models.codes()
        ]

    async def start(self) -> None:
        await self.results.start()

    async def stop(self) -> None:
        await self.results.stop()

    def close(self) -> None:
        self.models.close()

    # -- helpers --

    async def _screen(self, prompt: str) -> Verdict:
        """The prompt through the content filter; raises SensitiveContent (1301)."""
        if self._filter is None or not prompt:
            return SAFE
        verdict = await self._filter.check_input([("user", prompt)])
        if verdict.blocked:
            raise SensitiveContent()
        return verdict

    def _model(self, code: str, output: str) -> tuple[ServedMedia, MediaSpec]:
        served = self.models.get(code)
        if served.output != output:
            where = "/videos/generations" if served.output == "video" else "/images/generations"
            raise InvalidField("model", f"{code} is a {served.output} model; use {where}")
        return served, served.spec(code)

    def _image_job(
        self, served: ServedMedia, spec: MediaSpec, request: ImageRequest, record_id: str
    ) -> DiffusionJob:
        width, height = checks.size(spec, request.size)
        return DiffusionJob(
            prompt=request.prompt,
            width=width,
            height=height,
            steps=checks.steps(spec, served.config, request.quality),
            seed=checks.seed(request.seed),
            count=checks.count(served.config, request.model, request.n),
            guidance=served.config.guidance,
            marks=checks.marks(request.watermark, self.settings.watermark_text, record_id),
        )

    async def _video_job(
        self, served: ServedMedia, spec: MediaSpec, request: VideoRequest, record_id: str
    ) -> DiffusionJob:
        width, height = checks.size(spec, request.size)
        fps, seconds = checks.timing(spec, request.fps, request.duration)
        image: ImageInput | None = None
        if request.image_url is not None:
            image = await asyncio.to_thread(self._loader.image, "image_url", request.image_url)
            if not served.takes_image:
                raise InvalidField("image_url", f"{request.model} generates from text only")
        elif served.takes_image:
            raise InvalidField("image_url", f"{request.model} starts from an image: give image_url")
        if not request.prompt and not served.takes_image:
            raise InvalidField("prompt", f"{request.model} needs a prompt")
        return DiffusionJob(
            prompt=request.prompt,
            width=width,
            height=height,
            steps=checks.steps(spec, served.config, request.quality),
            seed=checks.seed(request.seed),
            guidance=served.config.guidance,
            marks=checks.marks(request.watermark, self.settings.watermark_text, record_id),
            fps=fps,
            duration=float(seconds),
            frames=served.config.frames,
            image=image,
        )

    def _task_row(
        self,
        key_id: str,
        kind: str,
        body: Mapping[str, Any],
        base: str,
        model: str,
        request_id: str | None,
    ) -> TaskRow:
        task_id = completion_id()
        stored = {TASK_MARK: kind, "base": base, "body": dict(body)}
        return TaskRow(
            id=task_id,
            key_id=key_id,
            model=model,
            request_id=request_id or task_id,
            status="PROCESSING",
            request_json=json.dumps(stored, ensure_ascii=False),
            result_json=None,
            created_at=now_seconds(),
            endpoint=IMAGES_KIND,
        )

    async def _run_image(
        self, row: TaskRow, attempt: Attempt, body: dict[str, Any], base: str
    ) -> TaskOutcome:
        request = parse_image_request(body)
        served, spec = self._model(request.model, "image")
        job = self._image_job(served, spec, request, row.id)
        pictures = await self._generate(served, request.model, request, job, attempt)
        assert isinstance(pictures, list)
        urls = [await self._stored(attempt, base, p.png, "png") for p in pictures]
        result = {**status_body(row), "task_status": "SUCCESS", "created": now_seconds()}
        return "SUCCESS", {**result, "image_result": [{"url": u} for u in urls]}, None

    async def _run_video(
        self, row: TaskRow, attempt: Attempt, body: dict[str, Any], base: str
    ) -> TaskOutcome:
        request = parse_video_request(body)
        served, spec = self._model(request.model, "video")
        job = await self._video_job(served, spec, request, row.id)
        clip = await self._generate(served, request.model, request, job, attempt)
        assert isinstance(clip, Clip)
        video = await self._stored(attempt, base, clip.mp4, "mp4")
        cover = await self._stored(attempt, base, clip.cover_png, "png")
        result = {**status_body(row), "task_status": "SUCCESS", "created": now_seconds()}
        return (
            "SUCCESS",
            {**result, "video_result": [{"url": video, "cover_image_url": cover}]},
            None,
        )

    async def _generate(
        self,
        served: ServedMedia,
        code: str,
        request: ImageRequest | VideoRequest,
        job: DiffusionJob,
        metered: Attempt,
    ) -> list[Picture] | Clip:
        """Admit at the per-unit price, generate, end the work with the units made."""
        record = metered.record_id
        await metered.admit(
            Admitted(
                record_id=record,
                model=code,
                request_id=request.request_id or record,
                client_request_id=request.request_id,
                stream=False,
                price=unit_price(served.price(code)),
                user_id=request.user_id,
            )
        )
        work = MediaWork()
        metered.track(work)
        try:
            result = await served.engine.generate(job)
        except DiffusionBusy:
            work.end(failed=True)
            raise HighTraffic(code) from None
        except DiffusionFailed as exc:
            work.end(failed=True)
            raise EngineFailure(f"The {served.output} engine failed: {exc}") from None
        except BaseException:
            work.end(cancelled=True)
            raise
        work.end(len(result) if isinstance(result, list) else 1)
        return result

    async def _stored(
        self, metered: Attempt, base: str, data: bytes, ext: Literal["png", "mp4"]
    ) -> str:
        row = await self.results.store(metered.caller.key_id, data, ext)
        return self.results.url(base, row)
