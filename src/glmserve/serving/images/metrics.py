"""Prometheus metrics of the image and video engines, read from their ``stats()`` when
Prometheus scrapes: whether each is loaded, the jobs it holds, the denoising steps of
the job generating now (its progress), and the generations finished."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from glmserve.serving.images.models import MediaModels

__all__ = ["ImageCollector"]


class ImageCollector(Collector):
    def __init__(self, models: MediaModels) -> None:
        self._models = models

    def collect(self) -> Iterator[Metric]:
        labels = ["model", "engine"]
        loaded = GaugeMetricFamily(
            "glmserve_image_engine_loaded", "1 once the model's pipeline is loaded.", labels=labels
        )
        jobs = GaugeMetricFamily(
            "glmserve_image_jobs",
            "Generations the engine holds (running or queued).",
            labels=labels,
        )
        done = GaugeMetricFamily(
            "glmserve_image_steps_done",
            "Denoising steps done of the generation running now.",
            labels=labels,
        )
        total = GaugeMetricFamily(
            "glmserve_image_steps_total",
            "Denoising steps in all of the generation running now.",
            labels=labels,
        )
        finished = CounterMetricFamily(
            "glmserve_image_generations", "Generations finished.", labels=labels
        )
        restarts = CounterMetricFamily(
            "glmserve_image_engine_restarts", "Times the engine process died.", labels=labels
        )
        for served in self._models:
            stats = served.engine.stats()
            key = [served.config.code, served.config.engine]
            loaded.add_metric(key, float(stats.loaded))
            jobs.add_metric(key, stats.running)
            done.add_metric(key, stats.steps_done)
            total.add_metric(key, stats.steps_total)
            finished.add_metric(key, stats.generations)
            restarts.add_metric(key, stats.restarts)
        yield from (loaded, jobs, done, total, finished, restarts)
