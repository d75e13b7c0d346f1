"""Failover: one of two llama-server replicas is killed during a run, then restarted.

    .venv/bin/python benchmarks/bench_failover.py [--requests 200] [--concurrency 8]

glmserve (``engine = "remote"``, prefix routing) in front of two replicas of the default
model; ``--requests`` short streamed requests (``--max-tokens``, greedy) at
``--concurrency``. After ``--kill-after`` requests have finished, replica B's process
group gets SIGKILL; ``--down`` seconds later B is started again on the same port.
Counted: requests that failed without streaming anything (target 0), streams that
ended with ``finish_reason: "network_error"`` (in flight on B when it died), and the
time from B's restart (the process start, and B answering /health) until glmserve routes
a request to it again (its ``glmserve_worker_routed_requests_total`` grows; /metrics
polled every 0.2 s; target <= 10 s; glmserve probes every 5 s).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_serving as bs  # noqa: E402
import remote_setup as rs  # noqa: E402

SLOTS = 4
SLOT_CONTEXT = 1024


def _replica(stack: ExitStack, port: int, args: argparse.Namespace, log: Path) -> rs.Worker:
    return stack.enter_context(
        rs.llama_server_worker(
            rs.default_model_path(),
            port,
            ctx_size=SLOTS * SLOT_CONTEXT,
            parallel=SLOTS,
            threads=args.threads,
            log=log,
        )
    )


async def _routed_to(gw: rs.Gateway, url: str) -> float:
    async with httpx.AsyncClient(timeout=5) as http:
        text = (await http.get(f"{gw.base}/metrics")).text
    return rs.worker_series(text, "routed_requests").get(url, 0.0)


async def _run(
    gw: rs.Gateway, stack: ExitStack, b: rs.Worker, args: argparse.Namespace, tmp: Path
) -> dict[str, Any]:
    client = bs.Client(gw.zai_base, rs.MODEL, None, [])
    prompts = [bs.PROMPTS[i % len(bs.PROMPTS)] + f" (request {i})" for i in range(args.requests)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for p in prompts:
        queue.put_nowait(p)
    results: list[bs.Result] = []
    events: dict[str, float] = {}
    killed = asyncio.Event()

    async def worker() -> None:
        while not queue.empty():
            res = await client.stream(bs.messages_for(queue.get_nowait()), args.max_tokens)
            results.append(res)
            if len(results) >= args.kill_after and not killed.is_set():
                killed.set()

    async def chaos() -> None:
        await killed.wait()
        os.killpg(b.proc.pid, signal.SIGKILL)
        events["kill"] = time.monotonic()
        before = await _routed_to(gw, b.base)
        await asyncio.sleep(args.down)
        events["restart"] = time.monotonic()
        log = tmp / "replicaB-restarted.log"
        # starting blocks until /health answers: in a thread, so the clients go on
        await asyncio.to_thread(_replica, stack, b.port, args, log)
        events["healthy"] = time.monotonic()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not queue.empty():
            if await _routed_to(gw, b.base) > before:
                events["routed"] = time.monotonic()
                return
            await asyncio.sleep(0.2)

    start = time.monotonic()
    try:
        await client.stream(bs.messages_for("Say hello."), 2)
        await asyncio.gather(chaos(), *(worker() for _ in range(args.concurrency)))
    finally:
        await client.http.aclose()
    wall = time.monotonic() - start
    failed = [r for r in results if not r.ok]
    finish = Counter(r.finish_reason for r in results if r.ok)
    routed = rs.worker_series(httpx.get(f"{gw.base}/metrics", timeout=10).text, "routed_requests")
    since = events.get("routed")
    return {
        "requests": len(results),
        "wall_s": wall,
        "failed_before_streaming": len(failed),
        "failures": [r.error for r in failed][:5],
        "finish_reasons": dict(finish),
        "routed": routed,
        "down_s": events["restart"] - events["kill"],
        "restart_to_healthy_s": events["healthy"] - events["restart"],
        "restart_to_routed_s": since - events["restart"] if since else None,
        "healthy_to_routed_s": since - events["healthy"] if since else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=12)
    ap.add_argument("--kill-after", type=int, default=50, help="finished requests before the kill")
    ap.add_argument("--down", type=float, default=3.0, help="seconds between kill and restart")
    ap.add_argument("--threads", type=int, default=1, help="threads per replica")
    args = ap.parse_args()
    print(rs.machine())
    tmp = Path(tempfile.mkdtemp(prefix="glmserve-bench-failover-"))
    with ExitStack() as stack:
        a = _replica(stack, rs.free_port(), args, tmp / "replicaA.log")
        b = _replica(stack, rs.free_port(), args, tmp / "replicaB.log")
        gw = stack.enter_context(rs.gateway(tmp / "gw", [a.base, b.base], context=SLOT_CONTEXT))
        r = asyncio.run(_run(gw, stack, b, args, tmp))
    print(r)
    fmt = lambda v: "-" if v is None else f"{v:.1f}"  # noqa: E731
    print(
        "\n| requests | wall s | failed before streaming | finish reasons | routed A / B "
        "| down s | restart -> healthy s | restart -> routed s | healthy -> routed s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(r["finish_reasons"].items()))
    routed = " / ".join(f"{r['routed'].get(w.base, 0):.0f}" for w in (a, b))
    print(
        f"| {r['requests']} | {r['wall_s']:.0f} | {r['failed_before_streaming']} | {reasons} "
        f"| {routed} | {r['down_s']:.1f} | {r['restart_to_healthy_s']:.1f} "
        f"| {fmt(r['restart_to_routed_s'])} | {fmt(r['healthy_to_routed_s'])} |"
    )
    for err in r["failures"]:
        print(f"failure: {err}")
    print(f"logs: {tmp}")


if __name__ == "__main__":
    main()
