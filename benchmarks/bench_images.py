"""Time and memory of one generation on a diffusion engine process: the tiny test
pipelines (tests/support/tiny_diffusion.py) by default, or a real diffusers folder.

    .venv/bin/python benchmarks/bench_images.py [--path FOLDER] [--device cpu|cuda]
        [--size 512x512] [--steps 4] [--runs 3] [--video]

Loads the pipeline in its engine process (``DiffusionEngine``, the first request's
cost), then times ``--runs`` generations one after the other. Prints the load time,
each generation's time and the engine process's peak resident memory (its
``VmHWM``), and the GPU's peak allocation when ``--device cuda``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from glmserve.engine.diffusion import DiffusionEngine, DiffusionJob, DiffusionSpec


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _run(args: argparse.Namespace) -> None:
    if args.path:
        path = Path(args.path)
    else:
        from tests.support.tiny_diffusion import tiny_cogvideox, tiny_cogview4

        path = tiny_cogvideox() if args.video else tiny_cogview4()
    width, height = (int(v) for v in args.size.split("x"))
    engine = DiffusionEngine(
        DiffusionSpec(path, device=args.device, dtype=args.dtype, threads=args.threads)
    )
    try:
        started = time.perf_counter()
        await asyncio.to_thread(engine.start)
        load = time.perf_counter() - started
        times = []
        for run in range(args.runs):
            job = DiffusionJob(
                "a watercolor fox in the snow", width, height, args.steps, run,
                frames=args.frames if args.video else None, fps=8,
            )  # fmt: skip
            started = time.perf_counter()
            await engine.generate(job)
            times.append(time.perf_counter() - started)
        assert engine.pid is not None
        rss = _peak_rss_mb(engine.pid)
    finally:
        engine.close()
    print(f"pipeline   {engine.info.class_name} ({path.name}) on {args.device} ({args.dtype})")
    print(
        f"job        {args.size}, {args.steps} steps"
        + (f", {args.frames} frames" if args.video else "")
    )
    print(f"load       {load:6.2f} s (engine process start + from_pretrained)")
    for i, seconds in enumerate(times):
        print(f"run {i + 1}      {seconds:6.2f} s")
    print(f"peak RSS   {rss:6.0f} MiB (engine process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", help="a diffusers folder (default: the tiny test pipeline)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--size", default="512x512")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--video", action="store_true", help="the tiny CogVideoX pipeline")
    parser.add_argument("--frames", type=int, default=9)
    asyncio.run(_run(parser.parse_args()))


if __name__ == "__main__":
    main()
