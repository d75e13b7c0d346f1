"""Prefix-aware routing against round-robin: two llama-server replicas behind glmserve.

    .venv/bin/python benchmarks/bench_routing.py [--repeat 1]

8 tenants, each with its own ~1,500-token system prompt, send 64 requests in shuffled
order (a short question, ``--max-tokens`` 8, greedy, streamed) at concurrency 4 to
glmserve (``engine = "remote"``) in front of two llama-server replicas of the default
model (``--slots``, default 4, slots of 2048 tokens each, 1 thread each: 2 cores here). Each
routing mode gets freshly started replicas (empty caches) and new system prompts.
Per mode: the share of prompt tokens served from the workers' caches (usage
``prompt_tokens_details.cached_tokens``), mean and p50 TTFT, and the share of requests
each replica took (glmserve's ``glmserve_worker_routed_requests_total``, read after the
warm-up request and at the end), replica 0 first.
Targets (docs/benchmarks.md): cached share >= 0.8 with prefix, its mean TTFT at most half of
round-robin's, no replica above 60% of the requests.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_serving as bs  # noqa: E402
import remote_setup as rs  # noqa: E402

TENANTS = 8
REQUESTS = 64
SLOT_CONTEXT = 2048


async def _drive(
    gw: rs.Gateway, jobs: list[list[dict[str, str]]], args: Any
) -> tuple[list[bs.Result], dict[str, float]]:
    client = bs.Client(gw.zai_base, rs.MODEL, None, [])
    queue: asyncio.Queue[list[dict[str, str]]] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    results: list[bs.Result] = []

    async def worker() -> None:
        while not queue.empty():
            results.append(await client.stream(queue.get_nowait(), args.max_tokens))

    try:
        await client.stream(bs.messages_for("Say hello."), 2)  # warm-up, no system prompt
        before = await _routed(gw)
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        after = await _routed(gw)
    finally:
        await client.http.aclose()
    return results, {url: after[url] - before.get(url, 0.0) for url in after}


async def _routed(gw: rs.Gateway) -> dict[str, float]:
    async with httpx.AsyncClient(timeout=10) as http:
        text = (await http.get(f"{gw.base}/metrics")).text
    return rs.worker_series(text, "routed_requests")


def _workload(tag: str, rng: random.Random) -> list[list[dict[str, str]]]:
    systems = [bs.system_prompt(f"{tag}-tenant{t}", target_words=950) for t in range(TENANTS)]
    jobs = [
        bs.messages_for(bs.QUESTIONS[(i // TENANTS) % len(bs.QUESTIONS)], systems[i % TENANTS])
        for i in range(REQUESTS)
    ]
    rng.shuffle(jobs)
    return jobs


def run_mode(routing: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    gguf = rs.default_model_path()
    with ExitStack() as stack:
        workers = [
            stack.enter_context(
                rs.llama_server_worker(
                    gguf,
                    ctx_size=args.slots * SLOT_CONTEXT,
                    parallel=args.slots,
                    threads=args.threads,
                    log=tmp / f"{routing}-replica{i}.log",
                )
            )
            for i in range(2)
        ]
        gw = stack.enter_context(
            rs.gateway(tmp / routing, [w.base for w in workers], routing=routing)
        )
        jobs = _workload(uuid.uuid4().hex[:8], random.Random(args.seed))
        results, routed = asyncio.run(_drive(gw, jobs, args))
        counts = [routed.get(w.base, 0.0) for w in workers]
    ok = [r for r in results if r.ok]
    prompt = sum(r.prompt_tokens for r in ok)
    cached = sum(r.cached_tokens or 0 for r in ok)
    total = sum(counts) or 1
    return {
        "routing": routing,
        "requests": len(results),
        "errors": len(results) - len(ok),
        "first_error": next((r.error for r in results if not r.ok), ""),
        "prompt_tokens_mean": prompt / len(ok) if ok else 0,
        "completion_tokens": sum(r.completion_tokens for r in ok),
        "cached_share": cached / prompt if prompt else 0.0,
        "ttft_mean_ms": statistics.mean(r.ttft for r in ok) * 1000 if ok else None,
        "ttft_p50_ms": statistics.median(r.ttft for r in ok) * 1000 if ok else None,
        "replica_shares": [c / total for c in counts],
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| run | routing | requests (errors) | prompt tokens / request | cached share "
        "| TTFT mean / p50 ms | requests per replica |"
    )
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        shares = " / ".join(f"{s:.0%}" for s in r["replica_shares"])
        print(
            f"| {r['run']} | {r['routing']} | {r['requests']} ({r['errors']}) | "
            f"{r['prompt_tokens_mean']:.0f} | {r['cached_share']:.2f} | "
            f"{r['ttft_mean_ms']:.0f} / {r['ttft_p50_ms']:.0f} | {shares} |"
        )
        if r["first_error"]:
            print(f"first error: {r['first_error']}")
    for run in sorted({r["run"] for r in rows}):
        by = {r["routing"]: r for r in rows if r["run"] == run}
        if {"prefix", "round-robin"} <= by.keys():
            p, rr = by["prefix"], by["round-robin"]
            ratio = p["ttft_mean_ms"] / rr["ttft_mean_ms"]
            print(
                f"run {run}: prefix cached share {p['cached_share']:.2f} (target >= 0.80), "
                f"mean TTFT prefix / round-robin {ratio:.2f} (target <= 0.50), busiest "
                f"replica {max(p['replica_shares']):.0%} (target <= 60%)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs; each alternates the order")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--slots", type=int, default=4, help="llama-server slots per replica")
    ap.add_argument("--modes", default="prefix,round-robin", help="routing modes, in order")
    ap.add_argument("--threads", type=int, default=1, help="threads per replica")
    ap.add_argument("--seed", type=int, default=12)
    args = ap.parse_args()
    print(rs.machine())
    tmp = Path(tempfile.mkdtemp(prefix="glmserve-bench-routing-"))
    rows = []
    for run in range(1, args.repeat + 1):
        first = args.modes.split(",")
        modes = first if run % 2 else first[::-1]
        for mode in modes:
            row = run_mode(mode, args, tmp / f"run{run}")
            rows.append({"run": f"{run} ({args.slots} slots)", **row})
            print(rows[-1], flush=True)
    print_table(rows)
    print(f"logs: {tmp}")


if __name__ == "__main__":
    main()
