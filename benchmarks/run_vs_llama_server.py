"""glmserve against llama.cpp's llama-server: same GGUF, same threads, same slots.

    .venv/bin/python benchmarks/run_vs_llama_server.py [--repeat 2] [harness options]

Builds llama-server first if needed (build_llama_server.sh), then for each repeat starts
one server at a time (the other is stopped, so they never share the CPUs), runs
bench_serving.py against it, and writes a markdown table and the raw JSON to
benchmarks/results/. glmserve runs the embedded default model (gemma-3-270m) in open
platform mode; llama-server gets the same GGUF, ``-np`` slots of the same context each
and the same prompt format (glmserve's transcript template, via --chat-template-file), so
both read the same prompt tokens.
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
from glmserve.config import DEFAULT_MODEL_CONTEXT, default_threads  # noqa: E402
from glmserve.engine.weights import default_model_path  # noqa: E402

LLAMA_SERVER = HERE / "build" / "llama.cpp" / "build" / "bin" / "llama-server"
MODEL = "gemma-3-270m"
STOP = "\nUser:"  # the transcript format's end of turn; glmserve adds it by itself


def glmserve_cmd(tmp: Path, port: int, threads: int, slots: int, context: int) -> list[str]:
    config = tmp / "glmserve.toml"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\ndefault_model = false\n\n'
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "{MODEL}"\ncontext_size = {context}\nthreads = {threads}\n'
        f"batch_size = 512\nmax_running = {slots}\nqueue_limit = 1024\n"
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


def markdown(runs: list[dict[str, dict[str, Any]]], facts: dict[str, str]) -> str:
    f = bench_serving._fmt
    lines = [f"# glmserve vs llama-server ({facts['date']})", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items() if k != "date"]
    for i, run in enumerate(runs, 1):
        g, s = run["glmserve"], run["llama-server"]
        lines += ["", f"## Run {i}", ""]
        lines += [
            "| concurrency | server | requests (errors) | output tokens (per request) "
            "| TTFT p50 / p99 ms | ITL p50 / p99 ms | stream decode tok/s | aggregate tok/s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for lg, ls in zip(g["throughput"], s["throughput"], strict=True):
            for name, r in (("glmserve", lg), ("llama-server", ls)):
                lines.append(
                    f"| {r['concurrency']} | {name} | {r['requests']} ({r['errors']}) "
                    f"| {r['output_tokens']} ({r['mean_output_tokens']:.1f}) "
                    f"| {f(r['ttft_p50_ms'])} / {f(r['ttft_p99_ms'])} "
                    f"| {f(r['itl_p50_ms'])} / {f(r['itl_p99_ms'])} "
                    f"| {f(r['stream_tok_s'])} | {f(r['aggregate_tok_s'])} |"
                )
        lines += [
            "",
            "| measure | glmserve | llama-server | glmserve / llama-server |",
            "|---|---|---|---|",
        ]
        g1, s1 = g["throughput"][0], s["throughput"][0]
        lines.append(
            f"| single-stream decode tok/s (c={g1['concurrency']}) "
            f"| {f(g1['stream_tok_s'])} | {f(s1['stream_tok_s'])} "
            f"| {ratio(g1['stream_tok_s'], s1['stream_tok_s'])} |"
        )
        for lg, ls in zip(g["throughput"], s["throughput"], strict=True):
            lines.append(
                f"| aggregate tok/s at c={lg['concurrency']} | {f(lg['aggregate_tok_s'])} "
                f"| {f(ls['aggregate_tok_s'])} "
                f"| {ratio(lg['aggregate_tok_s'], ls['aggregate_tok_s'])} |"
            )
        gp, sp = g["prefix"], s["prefix"]
        if gp and sp:
            lines += [
                f"| prefix prompt tokens | {gp['prompt_tokens']} | {sp['prompt_tokens']} | |",
                f"| cold TTFT ms | {f(gp['cold_ttft_ms'])} | {f(sp['cold_ttft_ms'])} | |",
                f"| warm TTFT ms | {f(gp['warm_ttft_ms'])} | {f(sp['warm_ttft_ms'])} | |",
                f"| warm / cold TTFT | {f(gp['warm_over_cold'], 3)} "
                f"| {f(sp['warm_over_cold'], 3)} | |",
                f"| warm cached_tokens | {gp['warm_cached_tokens']} "
                f"| {sp['warm_cached_tokens']} | |",
            ]
        go, so = g["one_token"], s["one_token"]
        if go and so and go["p50_ms"] is not None and so["p50_ms"] is not None:
            lines.append(
                f"| 1-token non-stream p50 ms ({go['requests']} sequential) "
                f"| {f(go['p50_ms'], 2)} | {f(so['p50_ms'], 2)} "
                f"| +{go['p50_ms'] - so['p50_ms']:.2f} ms |"
            )
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
    ap.add_argument("--context", type=int, default=DEFAULT_MODEL_CONTEXT)
    ap.add_argument("--port", type=int, default=18431, help="glmserve; llama-server gets +1")
    ap.add_argument("--out", type=Path, default=HERE / "results")
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
            "llama-server": (
                llama_server_cmd(tmp, args.port + 1, *shape),
                f"http://127.0.0.1:{args.port + 1}/v1",
            ),
        }
        for i in range(args.repeat):
            order = list(sides) if i % 2 == 0 else list(reversed(sides))
            run = {}
            for label in order:
                cmd, url = sides[label]
                log = args.out / f"{stamp}-{label}.log"
                argv = [*harness_argv, "--run-tag", f"{stamp}-{i}"]
                run[label] = bench(label, cmd, url, log, argv)
            runs.append(run)
    (args.out / f"{stamp}.json").write_text(json.dumps({"facts": facts, "runs": runs}, indent=2))
    table = markdown(runs, facts)
    (args.out / f"{stamp}.md").write_text(table)
    print("\n" + table)
    print(f"written: {args.out / stamp}.md and .json")


if __name__ == "__main__":
    main()
