"""The served image and video models: each code's engine (an embedded diffusers
pipeline or remote OpenAI-images workers) and what it makes."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from glmserve.catalog import MediaSpec, media_spec
from glmserve.config import ConfigError
from glmserve.config.images import ImageModelConfig, ImageSettings
from glmserve.engine.diffusion import (
    Clip,
    DiffusionEngine,
    DiffusionJob,
    DiffusionSpec,
    DiffusionStats,
    OnProgress,
    Picture,
)
from glmserve.engine.diffusion.remote import RemoteImageEngine
from glmserve.errors import ModelNotFound

__all__ = ["MediaEngine", "MediaModels", "ServedMedia", "load_media"]

log = logging.getLogger(__name__)


class MediaEngine(Protocol):
    async def generate(
        self, job: DiffusionJob, on_progress: OnProgress | None = None
    ) -> list[Picture] | Clip: ...

    def stats(self) -> DiffusionStats: ...

    def close(self) -> None: ...


@dataclass
class ServedMedia:
    config: ImageModelConfig
    engine: MediaEngine
    output: str
    """"image" or "video"."""
    takes_image: bool
    created: int

    def spec(self, code: str) -> MediaSpec:
        return media_spec(code, self.output)

    def price(self, code: str) -> float:
        """USD per image or video: the config's over the catalog's."""
        return self.config.price if self.config.price is not None else self.spec(code).price


class MediaModels:
    def __init__(self, models: Sequence[ServedMedia]) -> None:
        self._models = list(models)
        self._by_code = {code: m for m in self._models for code in m.config.codes}

    def __iter__(self) -> Iterator[ServedMedia]:
        return iter(self._models)

    def codes(self) -> Iterator[tuple[str, ServedMedia]]:
        return iter(self._by_code.items())

    def get(self, code: str) -> ServedMedia:
        served = self._by_code.get(code)
        if served is None:
            raise ModelNotFound(code)
        return served

    def close(self) -> None:
        for served in self._models:
            served.engine.close()


def load_media(settings: ImageSettings) -> MediaModels:
    """Every configured image and video model (engines start on their first request);
    raises ConfigError for a folder glmserve cannot serve."""
    loaded: list[ServedMedia] = []
    try:
        for config in settings.models:
            loaded.append(_load(config))
    except BaseException:
        for served in loaded:
            served.engine.close()
        raise
    return MediaModels(loaded)


def _load(config: ImageModelConfig) -> ServedMedia:
    now = int(time.time())
    if config.engine == "remote":
        engine = RemoteImageEngine(config.code, config.workers, queue_limit=config.queue_limit)
        return ServedMedia(config, engine, "image", False, now)
    assert config.path is not None
    spec = DiffusionSpec(config.path, config.device, config.dtype, config.threads)
    try:
        diffusion = DiffusionEngine(spec, queue_limit=config.queue_limit)
    except ValueError as exc:
        raise ConfigError(f"image model {config.code}: {exc}") from None
    log.info("image model %s: %s in %s", config.code, diffusion.info.class_name, config.path)
    info = diffusion.info
    return ServedMedia(config, diffusion, info.output, info.takes_image, now)
