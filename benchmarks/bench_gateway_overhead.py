"""Gateway overhead: glmserve (remote engine) in front of one llama-server against that
llama-server asked directly, with the same prompt tokens.

    .venv/bin/python benchmarks/bench_gateway_overhead.py [--repeat 2]

One llama-server (16 slots of 512 tokens, 1 thread) serves the default model; glmserve
(``engine = "remote"``) sends it token IDs on ``/completion``. The direct side sends the
same token IDs to the same ``/completion`` with the same greedy sampling fields (both
send ``--top-p``, 0.95 by default: glmserve passes top_p on even for greedy requests): the
IDs are glmserve's own rendering (its ``prompt_log``) of the counting prompts of
bench_serving.py, tokenized with glmserve's GGUF tokenizer, as the remote engine does.
The prompts run to ``max_tokens`` on both sides (no ignore-EOS yet); completion tokens
are shown. TTFT is the first visible (non-whitespace) text on both sides: glmserve's
transcript parser drops the leading " " token the counting answers start with. Every
slot gets a prompt at concurrency 16 before anything is timed. At concurrency 1
(``--ttft-requests`` requests, ``--ttft-max-tokens``) and 16 (``--rounds`` requests per
client, ``--max-tokens``), each repeat runs the two sides in alternating order: TTFT p50
and aggregate output tokens/s. Targets (docs/benchmarks.md): TTFT p50
at most +3 ms over direct, aggregate tokens/s at least 0.97x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_serving as bs  # noqa: E402
import remote_setup as rs  # noqa: E402

from glmserve.engine.remote.tokenizer import load_tokenizer  # noqa: E402

SLOTS = 16
SLOT_CONTEXT = 512
Send = Callable[[int, int], Awaitable[bs.Result]]  # (prompt index, max_tokens) -> result


class Direct:
    """llama-server's ``/completion`` streamed, with the body glmserve's adapter sends
    for a greedy request (engine/remote/llama_server.py)."""

    def __init__(self, base: str, prompts: list[list[int]], top_p: float) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=600)
        self.prompts = prompts
        self.top_p = top_p
        self.reconnects = 0

    async def stream(self, index: int, max_tokens: int) -> bs.Result:
        body = {
            "prompt": self.prompts[index], "n_predict": max_tokens, "stream": True,
            "cache_prompt": True, "return_tokens": True, "timings_per_token": True,
            "temperature": 0.0, "top_k": 0, "top_p": self.top_p, "min_p": 0.0, "typical_p": 1.0,
            "repeat_penalty": 1.0, "repeat_last_n": 64, "frequency_penalty": 0.0,
            "presence_penalty": 0.0, "dry_multiplier": 0.0, "xtc_probability": 0.0,
            "mirostat": 0, "seed": 0, "stop": [], "n_probs": 0,
        }  # fmt: skip
        try:
            return await self._stream(body)
        except httpx.RemoteProtocolError:
            # seen once: llama-server closed a fresh connection before answering
            self.reconnects += 1
            return await self._stream(body)

    async def _stream(self, body: dict[str, Any]) -> bs.Result:
        res = bs.Result(ok=False)
        start = time.perf_counter()
        text = ""
        async with self.http.stream("POST", "/completion", json=body) as resp:
            if resp.status_code != 200:
                res.error = f"HTTP {resp.status_code}"
                return res
            async for line in resp.aiter_lines():
                if not line.startswith("data:"):
                    continue
                event = json.loads(line[5:])
                text += event.get("content") or ""
                # glmserve's transcript parser drops leading whitespace (the counting
                # answers start with a " " token): first visible text on both sides
                if text.strip() and not res.ttft:
                    res.ttft = time.perf_counter() - start
                if event.get("stop"):
                    res.completion_tokens = int(event.get("tokens_predicted") or 0)
                    res.prompt_tokens = int(event.get("tokens_evaluated") or 0)
        res.latency = time.perf_counter() - start
        res.ok = res.ttft > 0
        return res


async def level(send: Send, n_prompts: int, concurrency: int, per: int, max_tokens: int) -> Any:
    order = [i % n_prompts for i in range(concurrency * per)]
    results: list[bs.Result] = []

    async def client(k: int) -> None:
        for i in order[k::concurrency]:
            results.append(await send(i, max_tokens))

    start = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(concurrency)))
    wall = time.perf_counter() - start
    ok = [r for r in results if r.ok]
    tokens = sum(r.completion_tokens for r in ok)
    ttft = bs.pct([r.ttft for r in ok], 50)
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "errors": len(results) - len(ok),
        "prompt_tokens": sum(r.prompt_tokens for r in ok),
        "completion_tokens": tokens,
        "ttft_p50_ms": ttft * 1000 if ttft is not None else None,
        "aggregate_tok_s": tokens / wall,
    }


async def run(gw: rs.Gateway, worker: rs.Worker, prompt_log: Path, args: argparse.Namespace) -> Any:
    base = worker.base
    # CPU seconds of each process during a level: the two share 2 cores with the client
    pids = {"glmserve": gw.proc.pid, "llama-server": worker.proc.pid, "client": os.getpid()}
    glm = bs.Client(gw.zai_base, rs.MODEL, None, [])
    glm.extra = {"top_p": args.top_p}
    prompts = bs.PROMPTS
    for p in prompts:  # renders each prompt once (prompt_log) and warms the worker's cache
        await glm.stream(bs.messages_for(p), 2)
    rendered = [json.loads(line) for line in prompt_log.read_text().splitlines()]
    tokenizer = load_tokenizer(rs.default_model_path())
    ids = [tokenizer.encode(text) for text in rendered[-len(prompts) :]]
    direct = Direct(base, ids, args.top_p)

    async def via_glmserve(i: int, max_tokens: int) -> bs.Result:
        return await glm.stream(bs.messages_for(prompts[i]), max_tokens)

    sides: dict[str, Send] = {"glmserve": via_glmserve, "llama-server": direct.stream}
    rows = []
    try:
        for send in sides.values():  # every slot holds a prompt before anything is timed
            await level(send, len(prompts), 16, 1, 2)
        for rep in range(1, args.repeat + 1):
            names = list(sides) if rep % 2 else list(reversed(sides))
            for conc, per, mt in ((1, args.ttft_requests, args.ttft_max_tokens),
                                  (16, args.rounds, args.max_tokens)):  # fmt: skip
                for name in names:
                    cpu = {k: rs.cpu_seconds(p) for k, p in pids.items()}
                    row = await level(sides[name], len(prompts), conc, per, mt)
                    used = {k: rs.cpu_seconds(p) - cpu[k] for k, p in pids.items()}
                    rows.append({"repeat": rep, "side": name, **row, "cpu_s": used})
                    print(rows[-1], flush=True)
    finally:
        await glm.http.aclose()
        await direct.http.aclose()
        print(f"direct requests retried after a dropped connection: {direct.reconnects}")
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(
        "\n| repeat | concurrency | side | requests (errors) | prompt / completion tokens "
        "| TTFT p50 ms | aggregate tok/s | CPU s glmserve / llama-server / client |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['repeat']} | {r['concurrency']} | {r['side']} | {r['requests']} "
            f"({r['errors']}) | {r['prompt_tokens']} / {r['completion_tokens']} "
            f"| {bs._fmt(r['ttft_p50_ms'])} | {r['aggregate_tok_s']:.1f} "
            f"| {r['cpu_s']['glmserve']:.1f} / {r['cpu_s']['llama-server']:.1f} "
            f"/ {r['cpu_s']['client']:.1f} |"
        )
    pairs: dict[tuple[int, int], dict[str, Any]] = {}
    for r in rows:
        pairs.setdefault((r["repeat"], r["concurrency"]), {})[r["side"]] = r
    for (rep, conc), by in sorted(pairs.items()):
        g, d = by["glmserve"], by["llama-server"]
        print(
            f"repeat {rep}, concurrency {conc}: TTFT p50 glmserve - direct "
            f"{g['ttft_p50_ms'] - d['ttft_p50_ms']:+.1f} ms (target <= +3), tok/s ratio "
            f"{g['aggregate_tok_s'] / d['aggregate_tok_s']:.3f} (target >= 0.97)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2, help="requests per client at 16")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--ttft-requests", type=int, default=16)
    ap.add_argument("--ttft-max-tokens", type=int, default=8)
    ap.add_argument(
        "--top-p",
        type=float,
        default=0.95,
        help="sent by both sides (glmserve passes it on even when greedy; 0.95 is its "
        "default for this model)",
    )
    ap.add_argument("--threads", type=int, default=1, help="llama-server threads")
    args = ap.parse_args()
    print(rs.machine())
    tmp = Path(tempfile.mkdtemp(prefix="glmserve-bench-overhead-"))
    prompt_log = tmp / "prompts.jsonl"
    with (
        rs.llama_server_worker(
            rs.default_model_path(),
            ctx_size=SLOTS * SLOT_CONTEXT,
            parallel=SLOTS,
            threads=args.threads,
            log=tmp / "llama-server.log",
        ) as worker,
        rs.gateway(tmp / "gw", [worker.base], context=SLOT_CONTEXT, prompt_log=prompt_log) as gw,
    ):
        rows = asyncio.run(run(gw, worker, prompt_log, args))
    print_table(rows)
    print(f"logs: {tmp}")


if __name__ == "__main__":
    main()
