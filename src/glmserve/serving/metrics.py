"""Prometheus metrics: what the engines are doing and how fast completions arrive.

One registry per application (no module-level state). Request latencies are observed as
completions stream (time to first token, time between tokens); the engines' state is read
from ``Engine.stats()`` when Prometheus scrapes, so it never goes stale.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from glmserve.serving.models.registry import ModelRegistry

__all__ = ["Metrics", "TokenClock"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_GAP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 5)


class TokenClock:
    """Times one completion's tokens: first-token latency, then the gaps between tokens."""

    def __init__(self, ttft: Histogram, gap: Histogram) -> None:
        self._ttft = ttft
        self._gap = gap
        self._last = time.perf_counter()
        self._first = True

    def tick(self) -> None:
        now = time.perf_counter()
        (self._ttft if self._first else self._gap).observe(now - self._last)
        self._first = False
        self._last = now


class Metrics:
    def __init__(self, models: ModelRegistry) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "glmserve_http_requests",
            "HTTP requests by route and status code.",
            ["route", "status"],
            registry=self.registry,
        )
        self.completions = Counter(
            "glmserve_completions",
            "Completions by model and finish reason.",
            ["model", "finish_reason"],
            registry=self.registry,
        )
        self._ttft = Histogram(
            "glmserve_time_to_first_token_seconds",
            "From the engine accepting a request to its first token.",
            ["model"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._gap = Histogram(
            "glmserve_inter_token_latency_seconds",
            "Time between consecutive tokens of a completion.",
            ["model"],
            buckets=_GAP_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_EngineCollector(models))
        self.registry.register(_WorkerCollector(models))

    def clock(self, model: str) -> TokenClock:
        return TokenClock(self._ttft.labels(model), self._gap.labels(model))

    def finished(self, model: str, finish_reason: str) -> None:
        self.completions.labels(model, finish_reason).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _EngineCollector(Collector):
    """Each engine's state, read at scrape time."""

    def __init__(self, models: ModelRegistry) -> None:
        self._models = models

    def collect(self) -> Iterator[Metric]:
        gauges = {
            "running": GaugeMetricFamily(
                "glmserve_running_sequences", "Sequences decoding now.", labels=["model"]
            ),
            "waiting": GaugeMetricFamily(
                "glmserve_queue_depth", "Requests waiting for a sequence slot.", labels=["model"]
            ),
            "kv": GaugeMetricFamily(
                "glmserve_kv_cache_usage_ratio",
                "KV cache cells holding tokens, over all cells.",
                labels=["model"],
            ),
            "hit": GaugeMetricFamily(
                "glmserve_prefix_cache_hit_ratio",
                "Prompt tokens served from the prefix cache, over all prompt tokens.",
                labels=["model"],
            ),
            "restarts": GaugeMetricFamily(
                "glmserve_engine_restarts",
                "Times the engine process was restarted.",
                labels=["model"],
            ),
        }
        counters = {
            "prompt": CounterMetricFamily(
                "glmserve_prompt_tokens", "Prompt tokens of finished requests.", labels=["model"]
            ),
            "cached": CounterMetricFamily(
                "glmserve_cached_tokens",
                "Prompt tokens reused from the prefix cache.",
                labels=["model"],
            ),
            "generated": CounterMetricFamily(
                "glmserve_generation_tokens", "Tokens generated.", labels=["model"]
            ),
        }
        for model in self._models:
            s = model.engine.stats()
            code = [model.code]
            gauges["running"].add_metric(code, s.running)
            gauges["waiting"].add_metric(code, s.waiting)
            gauges["kv"].add_metric(code, s.kv_cells_used / s.kv_cells if s.kv_cells else 0.0)
            hit = s.cached_tokens / s.prompt_tokens if s.prompt_tokens else 0.0
            gauges["hit"].add_metric(code, hit)
            gauges["restarts"].add_metric(code, s.restarts)
            counters["prompt"].add_metric(code, s.prompt_tokens)
            counters["cached"].add_metric(code, s.cached_tokens)
            counters["generated"].add_metric(code, s.generated_tokens)
        yield from gauges.values()
        yield from counters.values()


class _WorkerCollector(Collector):
    """The workers behind remote engines, read at scrape time (none for embedded ones)."""

    def __init__(self, models: ModelRegistry) -> None:
        self._models = models

    def collect(self) -> Iterator[Metric]:
        labels = ["model", "worker", "kind"]
        up = GaugeMetricFamily(
            "glmserve_worker_up", "1 while the worker is routed to (healthy).", labels=labels
        )
        in_flight = GaugeMetricFamily(
            "glmserve_worker_in_flight", "Requests in flight on the worker.", labels=labels
        )
        counters = {
            "routed": CounterMetricFamily(
                "glmserve_worker_routed_requests", "Requests routed to the worker.", labels=labels
            ),
            "errors": CounterMetricFamily(
                "glmserve_worker_errors", "Requests that failed on the worker.", labels=labels
            ),
            "cached_tokens": CounterMetricFamily(
                "glmserve_worker_cached_tokens",
                "Prompt tokens the worker reported served from its cache.",
                labels=labels,
            ),
            "prompt_tokens": CounterMetricFamily(
                "glmserve_worker_prompt_tokens", "Prompt tokens sent to the worker.", labels=labels
            ),
            "generated_tokens": CounterMetricFamily(
                "glmserve_worker_generation_tokens",
                "Tokens the worker generated.",
                labels=labels,
            ),
        }
        for model in self._models:
            for w in model.engine.worker_stats():
                key = [model.code, w.url, w.kind]
                up.add_metric(key, 1.0 if w.health != "down" else 0.0)
                in_flight.add_metric(key, w.in_flight)
                for name, family in counters.items():
                    family.add_metric(key, getattr(w, name))
        yield up
        yield in_flight
        yield from counters.values()
