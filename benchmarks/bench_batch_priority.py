"""Interactive time to first token with and without a batch running on the same model.

    python benchmarks/bench_batch_priority.py --base-url http://127.0.0.1:8080/api/paas/v4 \\
        --api-key KEY --model glm-4.7

Paired rounds, so that a drift in the machine's load touches both sides alike. Each
round:

1. with the model idle (``/health``: nothing running), one streamed interactive chat
   request: its time to first token (TTFT) is the round's baseline;
2. a batch of ``--batch-lines`` long greedy requests is created (zai-sdk's calls) and,
   once its lines are generating on the engine, the same kind of interactive request
   is sent: its TTFT is the round's loaded value;
3. the batch is cancelled and the round waits until the engine is idle again.

Every prompt starts with a new random tag (no prefix-cache hits); ``--context N`` puts N
repeats of a ~35-token paragraph before the question (a longer prompt to read). The
table: TTFT mean, p50 and p90 of both sides, the median of the per-round ratios, and
how many batch lines were generating when each loaded request arrived. ``--json``
writes every number.
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


FILLER = (
    "The committee met on a grey morning to read the reports of the harbour, the mills "
    "and the schools, and each report was read aloud in full before any vote was taken. "
)


def ttft(
    http: httpx.Client, url: str, model: str, i: int, max_tokens: int, context: int = 0
) -> float:
    body = {
        "model": model,
        "stream": True,
        "do_sample": False,
        "max_tokens": max_tokens,
        "messages": [
            {
                "role": "user",
                "content": f"[{uuid.uuid4().hex[:8]}] {FILLER * context}Write one "
                f"sentence about {TOPICS[i % len(TOPICS)]}.",
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


def engine_running(http: httpx.Client, health: str, model: str) -> int:
    for entry in http.get(health).json()["models"]:
        if entry["model"] == model:
            return int(entry["running"])
    raise SystemExit(f"model {model} is not served")


def wait(predicate: Any, seconds: float = 600) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit("timed out waiting for the server")
        time.sleep(0.05)


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
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pause", type=float, default=0.5)
    parser.add_argument(
        "--min-running",
        type=int,
        default=2,
        help="batch lines that must be generating before the loaded request",
    )
    parser.add_argument("--max-tokens", type=int, default=8)
    parser.add_argument(
        "--context",
        type=int,
        default=0,
        help="repeats of a ~35-token paragraph before each interactive question",
    )
    parser.add_argument("--batch-lines", type=int, default=4)
    parser.add_argument("--batch-max-tokens", type=int, default=128)
    parser.add_argument("--json", help="write the numbers to this file")
    args = parser.parse_args()
    base = args.base_url.rstrip("/") + "/"
    url = base + "chat/completions"
    http = httpx.Client(headers={"Authorization": f"Bearer {args.api_key}"}, timeout=600)
    zai = ZaiClient(api_key=args.api_key, base_url=base, max_retries=0, timeout=600)

    health = base.split("/api/")[0].split("/v1")[0] + "/health"
    ttft(http, url, args.model, 0, args.max_tokens, args.context)  # warm up
    uploaded = zai.files.create(
        file=("bench.jsonl", batch_file(args.model, args.batch_lines, args.batch_max_tokens)),
        purpose="batch",
    )
    baseline: list[float] = []
    loaded: list[float] = []
    busy: list[int] = []
    for i in range(args.rounds):
        wait(lambda: engine_running(http, health, args.model) == 0)
        time.sleep(args.pause)
        baseline.append(ttft(http, url, args.model, i, args.max_tokens, args.context))
        batch = zai.batches.create(
            input_file_id=uploaded.id,
            endpoint="/v4/chat/completions",
            auto_delete_input_file=False,
        )
        wait(lambda: engine_running(http, health, args.model) >= args.min_running)
        time.sleep(args.pause)  # the batch lines are past their prompts, decoding
        busy.append(engine_running(http, health, args.model))
        loaded.append(ttft(http, url, args.model, i, args.max_tokens, args.context))
        zai.batches.cancel(batch.id)
        wait(lambda b=batch.id: zai.batches.retrieve(b).status == "cancelled")
        print(
            f"round {i + 1}: {1000 * baseline[-1]:.0f} ms, {1000 * loaded[-1]:.0f} ms "
            f"beside {busy[-1]} batch lines",
            flush=True,
        )

    rows: dict[str, Any] = {"without batch": summary(baseline), "under batch": summary(loaded)}
    ratio = statistics.median(b / a for a, b in zip(baseline, loaded, strict=True))
    print(f"{'TTFT (ms)':<16}{'mean':>10}{'p50':>10}{'p90':>10}")
    for name, row in rows.items():
        print(f"{name:<16}{row['mean_ms']:>10.1f}{row['p50_ms']:>10.1f}{row['p90_ms']:>10.1f}")
    print(f"median per-round ratio under/without: {ratio:.3f} ({100 * (ratio - 1):+.1f}%)")
    if args.json:
        with open(args.json, "w") as out:
            numbers = {**rows, "median_ratio": ratio, "batch_lines_running": busy}
            json.dump({**numbers, "baseline_s": baseline, "loaded_s": loaded}, out, indent=1)


if __name__ == "__main__":
    main()
