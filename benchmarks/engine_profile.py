"""Where a decode step's time goes inside the embedded engine (no HTTP, no worker process).

    .venv/bin/python benchmarks/engine_profile.py [--streams 1,4,8] [--tokens 64] [--invariant]

Runs ``LlamaEngine`` on the embedded default model with N concurrent greedy requests that
decode ``--tokens`` tokens each (``ignore_eos``), and splits the decode thread's time per
step into: ``llama_decode`` itself, filling llama.cpp's batch through the ctypes bindings,
sampling (an argmax for these greedy requests; ``--chain`` samples with llama.cpp's
sampler chain instead, as a greedy request with a repetition penalty does), and the rest
(scheduler, detokenization, stop strings, handing tokens over). Then the cost of sending
one decode step's tokens over the worker's pipe, one message per token against one per
step. Shares are more telling than milliseconds on a loaded machine.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import sys
import time
from collections import defaultdict
from pathlib import Path

import llama_cpp as C

sys.path.insert(0, str(Path(__file__).resolve().parent))

from glmserve.engine.llama import native
from glmserve.engine.llama.engine import LlamaEngine
from glmserve.engine.llama.weights import default_model_path
from glmserve.engine.types import GenerationRequest, SamplingParams

PROMPT = "<bos>User: Count from 1 to 500: 1, 2, 3, 4, 5,\nAssistant:"
spent: dict[str, float] = defaultdict(float)


def _timed(name: str, fn):  # type: ignore[no-untyped-def]
    def wrapper(*args, **kwargs):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start

    return wrapper


def instrument() -> None:
    C.llama_decode = _timed("llama_decode", C.llama_decode)
    native.NativeContext.decode = _timed(
        "decode (fill + llama_decode)", native.NativeContext.decode
    )
    native.Sampler.sample = _timed("sampling", native.Sampler.sample)
    LlamaEngine._step = _timed("step", LlamaEngine._step)


def run(engine: LlamaEngine, streams: int, tokens: int, chain: bool) -> dict[str, float]:
    params = SamplingParams(temperature=0.0, repetition_penalty=1.0001 if chain else 1.0)

    async def one(i: int) -> None:
        prompt = engine.tokenize(PROMPT.replace("500", str(500 + i)))
        gen = engine.start(GenerationRequest(prompt, tokens, params, ignore_eos=True))
        async for _ in gen:
            pass

    async def all_of_them() -> None:
        await asyncio.gather(*(one(i) for i in range(streams)))

    spent.clear()
    steps_before = engine.stats().decode_steps
    asyncio.run(all_of_them())
    steps = engine.stats().decode_steps - steps_before
    ms = {k: 1000 * v / steps for k, v in spent.items()}
    return {
        "steps": steps,
        "step ms": ms["step"],
        "llama_decode": ms["llama_decode"],
        "batch fill (ctypes)": ms["decode (fill + llama_decode)"] - ms["llama_decode"],
        "sampling": ms["sampling"],
        "rest (Python)": ms["step"] - ms["decode (fill + llama_decode)"] - ms["sampling"],
    }


def pipe_cost(streams: int, rounds: int = 2000) -> tuple[float, float]:
    """µs to send one step's tokens: one message per token, then one per step."""
    ours, theirs = mp.Pipe()
    per_token = [("token", gid, 1000 + gid, " 12,") for gid in range(streams)]
    per_step = ("tokens", [(gid, 1000 + gid, " 12,") for gid in range(streams)])
    times = []
    for batch in ([*per_token], [per_step]):
        start = time.perf_counter()
        for _ in range(rounds):
            for message in batch:
                ours.send(message)
                theirs.recv()
        times.append(1e6 * (time.perf_counter() - start) / rounds)
    return times[0], times[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", default="1,4,8")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--invariant", action="store_true")
    ap.add_argument("--chain", action="store_true", help="llama.cpp's sampler chain")
    args = ap.parse_args()
    instrument()
    engine = LlamaEngine(
        default_model_path(),
        context_size=4096,
        threads=args.threads,
        batch_size=512,
        max_running=8,
        queue_limit=64,
        batch_invariant=args.invariant,
    )
    try:
        run(engine, 1, 8, args.chain)  # warm-up
        mode = "invariant" if args.invariant else "fast"
        sampler = "llama.cpp chain" if args.chain else "argmax"
        print(f"ms per decode step ({mode} kernels, {sampler}, {args.threads} threads)")
        print("streams  steps  step    llama_decode  batch fill  sampling  rest (Python)")
        for n in (int(x) for x in args.streams.split(",")):
            r = run(engine, n, args.tokens, args.chain)
            fill, rest = r["batch fill (ctypes)"], r["rest (Python)"]
            print(
                f"{n:7d}  {r['steps']:5.0f}  {r['step ms']:6.2f}  {r['llama_decode']:12.2f}  "
                f"{fill:10.3f}  {r['sampling']:8.3f}  {rest:13.3f}"
            )
    finally:
        engine.close()
    for n in (1, 8):
        token, step = pipe_cost(n)
        print(f"pipe, {n} stream(s): {token:6.1f} µs per step as per-token messages, "
              f"{step:6.1f} µs as one message")  # fmt: skip


if __name__ == "__main__":
    main()
