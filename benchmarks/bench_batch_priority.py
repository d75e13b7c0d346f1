"""Interactive time to first token with and without a batch running on the same model.

    python benchmarks/bench_batch_priority.py --base-url http://127.0.0.1:8080/api/paas/v4 \\
        --api-key KEY --model glm-4.7

1. Baseline: ``--requests`` streamed interactive chat requests, one at a time with
   ``--pause`` seconds between them (so each arrives at an engine that batch work may
   have filled meanwhile), each prompt new (a random tag first: no prefix-cache hits).
2. A batch of ``--batch-lines`` long greedy requests is uploaded and created with
   zai-sdk's calls; once it is ``in_progress`` the same interactive load runs again.
3. The table: TTFT mean, p50 and p90 in both phases, the change in percent, and how many
   batch lines finished during the second phase (batch work did go on between the
   interactive requests). The batch is cancelled at the end.

Greedy everywhere. ``--json`` writes the numbers.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import time
import uuid
from typing import Any

import httpx
from zai import ZaiClient

TOPICS = ["rivers", "mountains", "trees", "birds", "stars", "ships", "bridges", "clocks"]


def ttft(http: httpx.Client, url: str, model: str, i: int, max_tokens: int) -> float:
    body = {
        "model": model,
        "stream": True,
        "do_sample": False,
        "max_tokens": max_tokens,
        "messages": [
            {
                "role": "user",
                "content": f"[{uuid.uuid4().hex[:8]}] Write one sentence about "
                f"{TOPICS[i % len(TOPICS)]}.",
            }
        ],
    }
    start = time.perf_counter()
    first = None
    with http.stream("POST", url, json=body) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if first is None and line.startswith("data: {"):
                chunk = json.loads(line[6:])
                if chunk.get("choices") and chunk["choices"][0].get("delta"):
                    first = time.perf_counter() - start
    assert first is not None, "no token came"
    return first


def phase(args: argparse.Namespace, http: httpx.Client, url: str) -> list[float]:
    times = []
    for i in range(args.requests):
        times.append(ttft(http, url, args.model, i, args.max_tokens))
        time.sleep(args.pause)
    return times


def summary(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "mean_ms": 1000 * statistics.fmean(ordered),
        "p50_ms": 1000 * statistics.median(ordered),
        "p90_ms": 1000 * ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))],
    }


def batch_file(model: str, lines: int, max_tokens: int) -> io.BytesIO:
    rows = [
        {
            "custom_id": f"bench-{i}",
            "method": "POST",
            "url": "/v4/chat/completions",
            "body": {
                "model": model,
                "do_sample": False,
                "max_tokens": max_tokens,
                "messages": [
                    {"role": "user", "content": f"Count from {i} to 1000: {i}, {i + 1}, {i + 2},"}
                ],
            },
        }
        for i in range(lines)
    ]
    return io.BytesIO(("\n".join(json.dumps(r) for r in rows) + "\n").encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8080/api/paas/v4")
    parser.add_argument("--api-key", default="none")
    parser.add_argument("--model", default="glm-4.7")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.0)
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument("--batch-lines", type=int, default=200)
    parser.add_argument("--batch-max-tokens", type=int, default=128)
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args()
    base = args.base_url.rstrip("/") + "/"
    url = base + "chat/completions"
    http = httpx.Client(headers={"Authorization": f"Bearer {args.api_key}"}, timeout=600)
    zai = ZaiClient(api_key=args.api_key, base_url=base, max_retries=0, timeout=600)

    ttft(http, url, args.model, 0, args.max_tokens)  # warm up
    baseline = phase(args, http, url)

    uploaded = zai.files.create(
        file=("bench.jsonl", batch_file(args.model, args.batch_lines, args.batch_max_tokens)),
        purpose="batch",
    )
    batch = zai.batches.create(input_file_id=uploaded.id, endpoint="/v4/chat/completions")
    while zai.batches.retrieve(batch.id).status == "validating":
        time.sleep(0.2)
    time.sleep(args.pause)
    before = zai.batches.retrieve(batch.id).request_counts.completed
    loaded = phase(args, http, url)
    after = zai.batches.retrieve(batch.id).request_counts.completed
    zai.batches.cancel(batch.id)

    rows: dict[str, Any] = {"without batch": summary(baseline), "under batch": summary(loaded)}
    print(f"{'TTFT (ms)':<16}{'mean':>10}{'p50':>10}{'p90':>10}")
    for name, row in rows.items():
        print(f"{name:<16}{row['mean_ms']:>10.1f}{row['p50_ms']:>10.1f}{row['p90_ms']:>10.1f}")
    change = {
        k: 100 * (rows["under batch"][k] / rows["without batch"][k] - 1)
        for k in rows["under batch"]
    }
    print(
        f"{'change':<16}{change['mean_ms']:>+9.1f}%{change['p50_ms']:>+9.1f}%{change['p90_ms']:>+9.1f}%"
    )
    print(f"batch lines finished during the loaded phase: {after - before}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(
                {
                    **rows,
                    "change_percent": change,
                    "batch_lines_done": after - before,
                    "baseline_s": baseline,
                    "loaded_s": loaded,
                },
                out,
                indent=1,
            )


if __name__ == "__main__":
    main()
