"""GET /metrics: Prometheus text that moves with the traffic."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import Server

COUNT = [{"role": "user", "content": "Count from 1 to 300: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"}]


def _scrape(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = httpx.get(f"{server.base}/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def _get(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_follow_a_streamed_and_a_refused_request(server: Server) -> None:
    before = _scrape(server)
    body = {
        "model": "gemma-3-270m",
        "messages": COUNT,
        "stream": True,
        "do_sample": False,
        "max_tokens": 8,
    }
    with httpx.stream("POST", f"{server.zai_base}chat/completions", json=body, timeout=60) as r:
        r.read()
    httpx.post(
        f"{server.zai_base}chat/completions", json={"model": "nope", "messages": COUNT}, timeout=30
    )
    after = _scrape(server)
    m = "gemma-3-270m"
    route = "/api/paas/v4/chat/completions"
    assert _get(after, "glmserve_http_requests_total", route=route, status="200") == (
        _get(before, "glmserve_http_requests_total", route=route, status="200") + 1
    )
    assert _get(after, "glmserve_http_requests_total", route=route, status="400") == (
        _get(before, "glmserve_http_requests_total", route=route, status="400") + 1
    )
    assert _get(after, "glmserve_completions_total", model=m, finish_reason="length") == (
        _get(before, "glmserve_completions_total", model=m, finish_reason="length") + 1
    )
    # one first token, then seven gaps between tokens
    ttft = "glmserve_time_to_first_token_seconds_count"
    gaps = "glmserve_inter_token_latency_seconds_count"
    assert _get(after, ttft, model=m) == _get(before, ttft, model=m) + 1
    assert _get(after, gaps, model=m) == _get(before, gaps, model=m) + 7
    generated = "glmserve_generation_tokens_total"
    assert _get(after, generated, model=m) == _get(before, generated, model=m) + 8
    assert _get(after, "glmserve_running_sequences", model=m) == 0
    assert _get(after, "glmserve_queue_depth", model=m) == 0
    assert 0 < _get(after, "glmserve_kv_cache_usage_ratio", model=m) <= 1
    assert _get(after, "glmserve_prompt_tokens_total", model=m) > 0
