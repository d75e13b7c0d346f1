"""glmserve against llama.cpp's llama-server: same GGUF, same threads, same slots.

    .venv/bin/python benchmarks/run_vs_llama_server.py [--repeat 2] [harness options]

Builds llama-server first if needed (build_llama_server.sh), then for each repeat starts
one server at a time (the others are stopped, so they never share the CPUs), runs
bench_serving.py against it, and writes a markdown table and the raw JSON to
benchmarks/results/ (the JSON after every side, so an interrupted run keeps what it
measured). glmserve runs the embedded default model (gemma-3-270m) in open platform
mode, twice: as configured by default (batch_invariant = true) and with llama.cpp's
fastest kernels (batch_invariant = false, "glmserve-fast"). llama-server gets the same
GGUF, ``-np`` slots of the same context each and the same prompt format (glmserve's
transcript template, via --chat-template-file), so all read the same prompt tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_serving  # noqa: E402

from glmserve.chat.formats import BUILTIN_FORMATS  # noqa: E402
from glmserve.config import DEFAULT_MODEL_ENGINE, default_threads  # noqa: E402
from glmserve.engine.weights import default_model_path  # noqa: E402

LLAMA_SERVER = HERE / "build" / "llama.cpp" / "build" / "bin" / "llama-server"
MODEL = "gemma-3-270m"
STOP = "\nUser:"  # the transcript format's end of turn; glmserve adds it by itself


def glmserve_cmd(
    tmp: Path, port: int, threads: int, slots: int, context: int, *, invariant: bool = True
) -> list[str]:
    config = tmp / f"glmserve-{port}.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\ndefault_model = false\n\n'
        f'[platform]\nopen = true\ndata_dir = "{tmp / f"data-{port}"}"\n\n'
        f'[[models]]\ncode = "{MODEL}"\ncontext_size = {context}\nthreads = {threads}\n'
        f"batch_size = 512\nmax_running = {slots}\nqueue_limit = 1024\n"
        f"batch_invariant = {'true' if invariant else 'false'}\n"
    )
    glmserve = Path(sys.executable).parent / "glmserve"
    return [str(glmserve), "serve", "--config", str(config), "--log-level", "warning"]


def llama_server_cmd(tmp: Path, port: int, threads: int, slots: int, context: int) -> list[str]:
    template = tmp / "transcript.jinja"
    template.write_text(BUILTIN_FORMATS["transcript"].template)
    return [
        str(LLAMA_SERVER), "-m", str(default_model_path()), "--host", "127.0.0.1",
        "--port", str(port), "-t", str(threads), "-tb", str(threads),
        "-c", str(slots * context), "-np", str(slots), "--cont-batching",
        "-b", "512", "-ub", "512", "--swa-full",
        "--jinja", "--chat-template-file", str(template), "--no-webui",
    ]  # fmt: skip


def wait_ready(base_url: str, proc: subprocess.Popen[bytes], timeout: float = 180) -> None:
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.post(f"{base_url}/chat/completions", json=body, timeout=30).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise RuntimeError(f"{base_url} not ready after {timeout:.0f} s")


def bench(label: str, cmd: list[str], base_url: str, log: Path, argv: list[str]) -> dict[str, Any]:
    print(f"== {label}: {' '.join(cmd)}", flush=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_ready(base_url, proc)
        args = bench_serving.parse_args(
            ["--base-url", base_url, "--model", MODEL, "--label", label, "--stop", STOP, *argv]
        )
        report = asyncio.run(bench_serving.run(args))
        bench_serving.print_report(report)
        return report
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


REF = "llama-server"


def _table(run: dict[str, dict[str, Any]], names: list[str]) -> list[str]:
    f = bench_serving._fmt
    lines = [
        "| concurrency | server | requests (errors) | output tokens (per request) "
        "| TTFT p50 / p99 ms | ITL p50 / p99 ms | stream decode tok/s | aggregate tok/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for k in range(len(run[names[0]]["throughput"])):
        for name in names:
            r = run[name]["throughput"][k]
            lines.append(
                f"| {r['concurrency']} | {name} | {r['requests']} ({r['errors']}) "
                f"| {r['output_tokens']} ({r['mean_output_tokens']:.1f}) "
                f"| {f(r['ttft_p50_ms'])} / {f(r['ttft_p99_ms'])} "
                f"| {f(r['itl_p50_ms'])} / {f(r['itl_p99_ms'])} "
                f"| {f(r['stream_tok_s'])} | {f(r['aggregate_tok_s'])} |"
            )
    return lines


def _summary(run: dict[str, dict[str, Any]], names: list[str]) -> list[str]:
    """One row per target measure: each server, then each glmserve side over llama-server."""
    f = bench_serving._fmt
    ours = [n for n in names if n != REF]
    vs = ours if REF in run else []
    lines = [
        "| measure | " + " | ".join(names) + "".join(f" | {n} / {REF}" for n in vs) + " |",
        "|---" * (1 + len(names) + len(vs)) + "|",
    ]

    def row(label: str, values: list[Any], ratios: bool = True, digits: int = 1) -> None:
        cells = [f(v, digits) for v in values]
        base = values[names.index(REF)] if vs else None
        cells += [ratio(values[names.index(n)], base) if ratios else "" for n in vs]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    throughput = [run[n]["throughput"] for n in names]
    row(
        f"single-stream decode tok/s (c={throughput[0][0]['concurrency']})",
        [t[0]["stream_tok_s"] for t in throughput],
    )
    for k, level in enumerate(throughput[0]):
        row(
            f"aggregate tok/s at c={level['concurrency']}",
            [t[k]["aggregate_tok_s"] for t in throughput],
        )
    prefix = [run[n]["prefix"] for n in names]
    if all(prefix):
        row("cold TTFT ms (shared system prompt)", [p["cold_ttft_ms"] for p in prefix], False)
        row("warm TTFT ms", [p["warm_ttft_ms"] for p in prefix], False)
        row("warm / cold TTFT", [p["warm_over_cold"] for p in prefix], False, 3)
        row(
            "prompt tokens / warm cached_tokens",
            [f"{p['prompt_tokens']} / {p['warm_cached_tokens']}" for p in prefix],
            False,
        )
    one = [run[n]["one_token"] for n in names]
    if all(o and o["p50_ms"] is not None for o in one):
        cells = [f(o["p50_ms"], 2) for o in one]
        if vs:
            base = one[names.index(REF)]["p50_ms"]
            cells += [f"{one[names.index(n)]['p50_ms'] - base:+.2f} ms" for n in vs]
        label = f"1-token non-stream p50 ms ({one[0]['requests']} sequential)"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def markdown(runs: list[dict[str, dict[str, Any]]], facts: dict[str, str]) -> str:
    lines = [f"# glmserve vs llama-server ({facts['date']})", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items() if k != "date"]
    for i, run in enumerate(runs, 1):
        names = sorted(run, key=lambda n: (n == REF, n))  # the same order in every run
        lines += ["", f"## Run {i}", "", *_table(run, names), "", *_summary(run, names)]
    return "\n".join(lines) + "\n"


def machine_facts(threads: int, slots: int, context: int) -> dict[str, str]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor(),
    )
    flags = subprocess.run(
        [str(HERE.parent / "scripts" / "llama-cmake-args.sh")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{cpu}, nproc {os.cpu_count()}, load average before the run "
        f"{os.getloadavg()[0]:.2f}",
        "model": f"{MODEL} ({default_model_path().name})",
        "setup": f"{threads} threads, {slots} slots of {context} tokens, batch 512, greedy",
        "llama.cpp flags": flags,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--context", type=int, default=DEFAULT_MODEL_ENGINE.context_size)
    ap.add_argument("--port", type=int, default=18431, help="glmserve; llama-server gets +1")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--no-fast", action="store_true", help="skip the batch_invariant=false side")
    args, harness_argv = ap.parse_known_args()
    subprocess.run([str(HERE / "build_llama_server.sh")], check=True)
    args.out.mkdir(parents=True, exist_ok=True)
    facts = machine_facts(args.threads, args.slots, args.context)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    runs = []
    with tempfile.TemporaryDirectory(prefix="glmserve-bench-") as tmpdir:
        tmp = Path(tmpdir)
        shape = (args.threads, args.slots, args.context)
        sides = {
            "glmserve": (
                glmserve_cmd(tmp, args.port, *shape),
                f"http://127.0.0.1:{args.port}/api/paas/v4",
            ),
            "glmserve-fast": (
                glmserve_cmd(tmp, args.port + 2, *shape, invariant=False),
                f"http://127.0.0.1:{args.port + 2}/api/paas/v4",
            ),
            "llama-server": (
                llama_server_cmd(tmp, args.port + 1, *shape),
                f"http://127.0.0.1:{args.port + 1}/v1",
            ),
        }
        if args.no_fast:
            del sides["glmserve-fast"]
        raw = args.out / f"{stamp}.json"
        for i in range(args.repeat):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))  # alternate the order
            run = {}
            for label in order:
                cmd, url = sides[label]
                log = args.out / f"{stamp}-{label}.log"
                argv = [*harness_argv, "--run-tag", f"{stamp}-{i}"]
                run[label] = bench(label, cmd, url, log, argv)
                raw.write_text(json.dumps({"facts": facts, "runs": [*runs, run]}, indent=2))
            runs.append(run)
    table = markdown(runs, facts)
    (args.out / f"{stamp}.md").write_text(table)
    print("\n" + table)
    print(f"written: {args.out / stamp}.md and .json")


if __name__ == "__main__":
    main()
