"""Serving benchmark for any OpenAI- or Z.AI-style ``/chat/completions`` endpoint.

    python benchmarks/bench_serving.py --base-url http://127.0.0.1:8080/api/paas/v4 \\
        --model gemma-3-270m

A fixed, seeded workload, greedy (temperature 0) so every run asks for the same tokens:

- throughput: at each concurrency (1, 4, 8, 16), ``concurrency x rounds`` streamed
  requests from that many closed-loop clients; time to first token (TTFT) p50/p99,
  inter-token latency (ITL, the gap between content chunks) p50/p99, per-stream decode
  tokens/s and aggregate output tokens/s;
- prefix cache: a ~2,000-token system prompt never seen before (cold), then the same
  system prompt with a different question (warm); the medians of a few such pairs;
- overhead: the median wall time of sequential non-stream requests with max_tokens=1.

Output tokens are counted from the server's ``usage`` (the last stream chunk carries it
when ``stream_options.include_usage`` is set), never from the number of chunks. Prompts
ask for long counting-style continuations, since "ignore EOS" is not portable; the table
shows the tokens actually generated. ``--json`` writes every number for a runner.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

# Sequences already started: a small base model keeps them going (the others it ends
# within a few tokens, tried on gemma-3-270m).
PROMPTS = [
    "Continue this list up to 1000: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,",
    "Count from 1 to 500: 1, 2, 3, 4, 5,",
    "List the even numbers up to 1000: 2, 4, 6, 8, 10,",
    "Count down from 500: 500, 499, 498, 497,",
    "List the years from 1900 to 2100: 1900, 1901, 1902, 1903,",
    "Count from 200 to 900: 200, 201, 202, 203,",
    "List the multiples of 5 up to 2000: 5, 10, 15, 20,",
    "Count by threes up to 999: 3, 6, 9, 12, 15,",
]
QUESTIONS = [
    "What is the third rule above?",
    "Summarise the rules above in one sentence.",
    "Which rule mentions the number twelve?",
    "How many rules are there?",
    "What is the last rule?",
    "Which rule is the longest?",
]


@dataclass
class Result:
    ok: bool
    ttft: float = 0.0
    latency: float = 0.0
    gaps: list[float] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int | None = None
    finish_reason: str = ""
    error: str = ""

    @property
    def decode_rate(self) -> float | None:
        """Tokens/s of this stream after its first token."""
        span = self.latency - self.ttft
        return (self.completion_tokens - 1) / span if self.completion_tokens > 1 and span else None


class Client:
    def __init__(self, base_url: str, model: str, api_key: str | None, stop: list[str]) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers=headers,
            timeout=httpx.Timeout(600.0),
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=64),
        )
        self.model = model
        self.stop = stop
        self.extra: dict[str, Any] = {}  # more request fields (e.g. top_p)

    def body(self, messages: list[dict[str, str]], max_tokens: int, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "seed": 0,
            "stream": stream,
        }
        if stream:
            body["stream_options"] = {"include_usage": True}
        if self.stop:
            body["stop"] = self.stop
        return {**body, **self.extra}

    async def stream(self, messages: list[dict[str, str]], max_tokens: int) -> Result:
        res = Result(ok=False)
        start = time.perf_counter()
        last: float | None = None
        try:
            body = self.body(messages, max_tokens, stream=True)
            async with self.http.stream("POST", "/chat/completions", json=body) as resp:
                if resp.status_code != 200:
                    res.error = f"HTTP {resp.status_code}: {(await resp.aread())[:200]!r}"
                    return res
                async for line in resp.aiter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    chunk = json.loads(data)
                    now = time.perf_counter()
                    if _has_output(chunk):
                        if last is None:
                            res.ttft = now - start
                        else:
                            res.gaps.append(now - last)
                        last = now
                    if chunk.get("usage"):
                        _take_usage(res, chunk["usage"])
                    for choice in chunk.get("choices") or []:
                        res.finish_reason = choice.get("finish_reason") or res.finish_reason
        except httpx.HTTPError as exc:
            res.error = f"{type(exc).__name__}: {exc}"
            return res
        res.latency = (last or time.perf_counter()) - start
        res.ok = last is not None
        if not res.ok:
            res.error = "no output"
        return res

    async def complete(self, messages: list[dict[str, str]], max_tokens: int) -> Result:
        start = time.perf_counter()
        body = self.body(messages, max_tokens, stream=False)
        resp = await self.http.post("/chat/completions", json=body)
        res = Result(ok=resp.status_code == 200, latency=time.perf_counter() - start)
        if res.ok:
            _take_usage(res, resp.json().get("usage") or {})
        else:
            res.error = f"HTTP {resp.status_code}: {resp.text[:200]}"
        return res


def _has_output(chunk: dict[str, Any]) -> bool:
    """A chunk that carries generated text, or ends the choice (a first token may be
    whitespace a server trims)."""
    for choice in chunk.get("choices") or []:
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("reasoning_content") or choice.get("finish_reason"):
            return True
    return False


def _take_usage(res: Result, usage: dict[str, Any]) -> None:
    res.prompt_tokens = int(usage.get("prompt_tokens") or 0)
    res.completion_tokens = int(usage.get("completion_tokens") or 0)
    details = usage.get("prompt_tokens_details") or {}
    if "cached_tokens" in details:
        res.cached_tokens = int(details["cached_tokens"])


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def messages_for(prompt: str, system: str | None = None) -> list[dict[str, str]]:
    msgs = [{"role": "system", "content": system}] if system else []
    return [*msgs, {"role": "user", "content": prompt}]


async def throughput(
    client: Client, concurrency: int, rounds: int, max_tokens: int, rng: random.Random
) -> dict[str, Any]:
    prompts = [rng.choice(PROMPTS) for _ in range(concurrency * rounds)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for p in prompts:
        queue.put_nowait(p)
    results: list[Result] = []

    async def worker() -> None:
        while not queue.empty():
            results.append(await client.stream(messages_for(queue.get_nowait()), max_tokens))

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    ok = [r for r in results if r.ok]
    gaps = [g for r in ok for g in r.gaps]
    rates = [r.decode_rate for r in ok if r.decode_rate]
    tokens = sum(r.completion_tokens for r in ok)
    return {
        "concurrency": concurrency,
        "requests": len(results),
        "errors": len(results) - len(ok),
        "first_error": next((r.error for r in results if not r.ok), ""),
        "output_tokens": tokens,
        "mean_output_tokens": tokens / len(ok) if ok else 0,
        "wall_s": wall,
        "ttft_p50_ms": _ms(pct([r.ttft for r in ok], 50)),
        "ttft_p99_ms": _ms(pct([r.ttft for r in ok], 99)),
        "itl_p50_ms": _ms(pct(gaps, 50)),
        "itl_p99_ms": _ms(pct(gaps, 99)),
        "stream_tok_s": statistics.median(rates) if rates else None,
        "aggregate_tok_s": tokens / wall,
    }


def system_prompt(tag: str, target_words: int = 1300) -> str:
    """About 2,000 tokens of numbered rules; ``tag`` (first) makes it new to any cache."""
    words = [f"Session {tag}. You are a careful assistant. Follow these house rules."]
    n = 0
    while sum(len(w.split()) for w in words) < target_words:
        n += 1
        words.append(
            f"Rule {n}: when a question mentions item {n * 7 % 97}, answer in at most "
            f"{n % 12 + 1} sentences and cite rule {n} by its number."
        )
    return "\n".join(words)


async def prefix_cache(client: Client, pairs: int, run_tag: str) -> dict[str, Any]:
    cold: list[Result] = []
    warm: list[Result] = []
    for i in range(pairs):
        system = system_prompt(f"{run_tag}-{i}")
        cold.append(await client.stream(messages_for(QUESTIONS[0], system), 4))
        warm.append(await client.stream(messages_for(QUESTIONS[1 + i % 5], system), 4))
    bad = [r for r in cold + warm if not r.ok]
    cold_ttft = statistics.median(r.ttft for r in cold if r.ok) if len(bad) < len(cold) else None
    warm_ttft = statistics.median(r.ttft for r in warm if r.ok) if len(bad) < len(warm) else None
    return {
        "pairs": pairs,
        "errors": len(bad),
        "prompt_tokens": cold[0].prompt_tokens,
        "cold_ttft_ms": _ms(cold_ttft),
        "warm_ttft_ms": _ms(warm_ttft),
        "warm_over_cold": warm_ttft / cold_ttft if cold_ttft and warm_ttft else None,
        "warm_cached_tokens": [r.cached_tokens for r in warm],
        "cold_cached_tokens": [r.cached_tokens for r in cold],
    }


async def one_token(client: Client, n: int) -> dict[str, Any]:
    msgs = messages_for("Say hello.")
    for _ in range(3):  # warm-up
        await client.complete(msgs, 1)
    results = [await client.complete(msgs, 1) for _ in range(n)]
    ok = [r.latency for r in results if r.ok]
    return {
        "requests": n,
        "errors": n - len(ok),
        "prompt_tokens": results[0].prompt_tokens,
        "p50_ms": _ms(statistics.median(ok)) if ok else None,
        "min_ms": _ms(min(ok)) if ok else None,
    }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def print_report(report: dict[str, Any]) -> None:
    print(f"\n{report['label']}  {report['base_url']}  model={report['model']}")
    print(
        "conc  reqs  err  out_tok  tok/req  TTFT p50/p99 ms  ITL p50/p99 ms  stream tok/s  "
        "aggregate tok/s"
    )
    for r in report["throughput"]:
        print(
            f"{r['concurrency']:>4}  {r['requests']:>4}  {r['errors']:>3}  "
            f"{r['output_tokens']:>7}  {r['mean_output_tokens']:>7.1f}  "
            f"{_fmt(r['ttft_p50_ms']):>7}/{_fmt(r['ttft_p99_ms']):<7}  "
            f"{_fmt(r['itl_p50_ms']):>6}/{_fmt(r['itl_p99_ms']):<7}  "
            f"{_fmt(r['stream_tok_s']):>12}  {_fmt(r['aggregate_tok_s']):>15}"
        )
        if r["first_error"]:
            print(f"      first error: {r['first_error']}")
    p = report["prefix"]
    if p:
        print(
            f"prefix ({p['prompt_tokens']} prompt tokens, {p['pairs']} pairs): cold TTFT "
            f"{_fmt(p['cold_ttft_ms'])} ms, warm {_fmt(p['warm_ttft_ms'])} ms, warm/cold "
            f"{_fmt(p['warm_over_cold'], 3)}, warm cached_tokens {p['warm_cached_tokens']}"
        )
    o = report["one_token"]
    if o:
        print(
            f"1-token non-stream ({o['requests']} sequential, {o['prompt_tokens']} prompt "
            f"tokens): p50 {_fmt(o['p50_ms'], 2)} ms, min {_fmt(o['min_ms'], 2)} ms"
        )


async def run(args: argparse.Namespace) -> dict[str, Any]:
    client = Client(args.base_url, args.model, args.api_key, args.stop)
    if args.ignore_eos:
        client.extra["ignore_eos"] = True
    rng = random.Random(args.seed)
    try:
        await client.stream(messages_for(PROMPTS[0]), 8)  # warm-up: load, first allocations
        levels = [
            await throughput(client, c, args.rounds, args.max_tokens, rng) for c in args.concurrency
        ]
        tag = args.run_tag or uuid.uuid4().hex[:12]
        prefix = await prefix_cache(client, args.prefix_pairs, tag) if args.prefix_pairs else None
        one = await one_token(client, args.one_token) if args.one_token else None
    finally:
        await client.http.aclose()
    return {
        "label": args.label,
        "base_url": args.base_url,
        "model": args.model,
        "max_tokens": args.max_tokens,
        "rounds": args.rounds,
        "seed": args.seed,
        "throughput": levels,
        "prefix": prefix,
        "one_token": one,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", required=True, help="the URL /chat/completions hangs off")
    ap.add_argument("--model", required=True)
    ap.add_argument("--api-key")
    ap.add_argument("--label", default="server")
    ap.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 8, 16]
    )
    ap.add_argument("--rounds", type=int, default=2, help="requests per client at each concurrency")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    ap.add_argument(
        "--ignore-eos",
        action="store_true",
        help="send ignore_eos (vLLM, llama-server, glmserve): every request decodes max_tokens",
    )
    ap.add_argument("--prefix-pairs", type=int, default=3)
    ap.add_argument("--one-token", type=int, default=30, help="sequential 1-token requests")
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--run-tag", help="makes the cold system prompts new (default: random)")
    ap.add_argument("--json", help="also write the report to this file")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    report = asyncio.run(run(args))
    print_report(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
