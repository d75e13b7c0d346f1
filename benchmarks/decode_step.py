"""Time one llama_decode step of 1, 4 and 8 sequences, with and without batch invariance.

    .venv/bin/python benchmarks/decode_step.py [--steps 40] [--threads N]

No server, no sampling: only ``NativeContext.decode`` on the embedded default model, each
mode in a process of its own (ggml chooses its matmul kernels once per process). Every
sequence first reads a 30-token prompt, then decodes ``--steps`` tokens; the median time
per step is printed for each batch size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

from glmserve.config import default_threads


def measure(invariant: bool, steps: int, threads: int) -> dict[int, float]:
    from glmserve.engine.native import NativeContext, NativeModel
    from glmserve.engine.weights import default_model_path

    model = NativeModel(default_model_path(), batch_invariant=invariant)
    ctx = NativeContext(
        model, seq_cells=4096, n_batch=520, n_seq=8, threads=threads, batch_invariant=invariant
    )
    result = {}
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
        result[rows] = 1000 * statistics.median(times)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--child", choices=["fast", "invariant"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(measure(args.child == "invariant", args.steps, args.threads)))
        return
    print(f"median ms per decode step ({args.steps} steps, {args.threads} threads)")
    print("mode              1 seq   4 seqs   8 seqs")
    for mode in ("fast", "invariant"):
        out = subprocess.run(
            [sys.executable, __file__, "--child", mode, "--steps", str(args.steps),
             "--threads", str(args.threads)],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        ms = {int(k): v for k, v in json.loads(out.strip().splitlines()[-1]).items()}
        print(f"{mode:<16} {ms[1]:6.1f}   {ms[4]:6.1f}   {ms[8]:6.1f}")


if __name__ == "__main__":
    main()
