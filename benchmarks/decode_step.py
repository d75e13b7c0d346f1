"""Time one llama_decode step of 1, 4 and 8 sequences, with and without batch invariance.

    .venv/bin/python benchmarks/decode_step.py [--steps 40] [--threads N]

No server: ``NativeContext.decode`` on the embedded default model, each mode in a process
of its own (ggml chooses its matmul kernels once per process). Every sequence first reads
a 30-token prompt, then decodes ``--steps`` tokens; the median time per step is printed
for each batch size. "fast-unified" is the fast mode with one KV pool for all sequences
(llama-server's default) instead of a stream per sequence. Then the median time to pick
one token from a logits row (262,144 entries): llama.cpp's greedy sampler chain, the
engine's argmax, and a top-k 40 / top-p 0.95 / temperature chain.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from glmserve.config import default_threads

MODES = ("fast", "fast-unified", "invariant")


def measure(mode: str, steps: int, threads: int) -> dict[str, float]:
    from glmserve.engine.llama.native import NativeContext, NativeModel
    from glmserve.engine.llama.weights import default_model_path

    invariant = mode == "invariant"
    model = NativeModel(default_model_path(), batch_invariant=invariant)
    ctx = NativeContext(
        model,
        seq_cells=4096,
        n_batch=520,
        n_seq=8,
        threads=threads,
        batch_invariant=invariant,
        unified_kv=mode == "fast-unified",
    )
    result: dict[str, float] = {}
    for rows in (1, 4, 8):
        for seq in range(8):
            ctx.seq_rm(seq)
        for seq in range(rows):
            ctx.decode([(seq, i, 100 + i, i == 29) for i in range(30)])
        times = []
        for step in range(steps):
            batch = [(seq, 30 + step, 200 + step % 50, True) for seq in range(rows)]
            start = time.perf_counter()
            ctx.decode(batch)
            times.append(time.perf_counter() - start)
        result[str(rows)] = 1000 * statistics.median(times)
    result.update(sampling(model, ctx))
    return result


def sampling(model: object, ctx: object) -> dict[str, float]:
    """Median ms to sample one token from each of the last step's 8 rows."""
    from glmserve.engine.llama.native import Sampler
    from glmserve.engine.types import SamplingParams

    kinds = {
        "chain-greedy": SamplingParams(temperature=0.0, repetition_penalty=1.0 + 1e-9),
        "argmax": SamplingParams(temperature=0.0),
        "chain-top-k": SamplingParams(temperature=0.8, top_k=40, top_p=0.95, seed=1),
    }
    out = {}
    for name, params in kinds.items():
        sampler = Sampler(params, model)  # type: ignore[arg-type]
        times = []
        for _ in range(10):
            for row in range(8):
                start = time.perf_counter()
                sampler.sample(ctx, row)  # type: ignore[arg-type]
                times.append(time.perf_counter() - start)
        sampler.close()
        out[name] = 1000 * statistics.median(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.steps, args.threads)))
        return
    print(f"median ms per decode step ({args.steps} steps, {args.threads} threads)")
    print(
        "mode              1 seq   4 seqs   8 seqs   | ms per sampled token: "
        "chain-greedy  argmax  chain-top-k"
    )
    for mode in MODES:
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--steps", str(args.steps),
             "--threads", str(args.threads)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        ms = json.loads(out.strip().splitlines()[-1])
        print(
            f"{mode:<16} {ms['1']:6.1f}   {ms['4']:6.1f}   {ms['8']:6.1f}   | "
            f"{ms['chain-greedy']:21.3f} {ms['argmax']:7.3f} {ms['chain-top-k']:12.3f}"
        )


if __name__ == "__main__":
    main()
