"""glmserve against llama.cpp's llama-server: same GGUF, same threads, same slots.

    .venv/bin/python benchmarks/run_vs_llama_server.py [--repeat 2] [--models gemma,glm-moe]
        [--invariant] [harness options, e.g. --rounds 1 --max-tokens 64]

Builds llama-server first if needed (``build_llama_server.sh --cache``), and the
GLM-shaped MoE model (glm_moe_gguf.py). For each model and each repeat it starts one
server at a time (the others are stopped, so they never share the CPUs), alternating the
order between repeats, runs bench_serving.py against it with ``--ignore-eos`` (every request decodes
its full max_tokens on both servers), samples the resident memory of the server's whole
process tree, and writes a markdown table per model and the raw JSON to
benchmarks/results/ (the JSON after every side, so an interrupted run keeps what it
measured). Each server runs with its defaults, with the same threads and slots:
glmserve as configured by default (the model's code, gguf and threads only),
``--invariant`` adds a side with ``batch_invariant = true``; llama-server gets ``-t``,
``-tb``, ``-np`` slots of the same context each, ``--swa-full`` (glmserve keeps full
sliding-window history so that its prefix cache works) and, for Gemma, glmserve's
transcript template (``--chat-template-file``) so both read the same prompt tokens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench_serving  # noqa: E402
import glm_moe_gguf  # noqa: E402

from glmserve.chat.formats import BUILTIN_FORMATS  # noqa: E402
from glmserve.config import DEFAULT_MODEL_ENGINE, ENGINE_DEFAULTS, default_threads  # noqa: E402
from glmserve.engine.llama.weights import default_model_path  # noqa: E402


def llama_server() -> Path:
    """llama-server from the shared cache (built there on first use, as the tests' is)."""
    out = subprocess.run(
        [str(HERE / "build_llama_server.sh"), "--cache"], check=True, stdout=subprocess.PIPE
    )
    return Path(out.stdout.decode().strip().splitlines()[-1])


@dataclass(frozen=True)
class Model:
    name: str
    code: str
    """The code glmserve serves it under."""
    gguf: Path | None
    """None: the embedded default model."""
    slots: int
    context: int
    template: str | None = None
    """A chat template file for llama-server (the GGUF has none)."""


def models(names: list[str]) -> list[Model]:
    out = []
    if "gemma" in names:
        engine = DEFAULT_MODEL_ENGINE
        out.append(Model("gemma-3-270m", "gemma-3-270m", None, engine.max_running,
                         engine.context_size, BUILTIN_FORMATS["transcript"].template))  # fmt: skip
    if "glm-moe" in names:
        gguf = glm_moe_gguf.bench_model()
        out.append(Model("glm-moe", "glm-4.7", gguf, ENGINE_DEFAULTS.max_running, 4096))
    return out


def glmserve_cmd(
    tmp: Path, port: int, threads: int, model: Model, *, invariant: bool = False
) -> list[str]:
    config = tmp / f"glmserve-{port}.toml"
    entry = f'[[models]]\ncode = "{model.code}"\nthreads = {threads}\n'
    if model.gguf is not None:
        entry += f'gguf = "{model.gguf}"\n'
    if invariant:
        entry += "batch_invariant = true\n"
    config.write_text(
        f'[server]\nhost = "127.0.0.1"\nport = {port}\ndefault_model = false\n\n'
        f'[platform]\nopen = true\ndata_dir = "{tmp / f"data-{port}"}"\n\n{entry}'
    )
    glmserve = Path(sys.executable).parent / "glmserve"
    return [str(glmserve), "serve", "--config", str(config), "--log-level", "warning"]


def llama_server_cmd(tmp: Path, port: int, threads: int, model: Model) -> list[str]:
    cmd = [
        str(llama_server()), "-m", str(model.gguf or default_model_path()), "--host", "127.0.0.1",
        "--port", str(port), "-t", str(threads), "-tb", str(threads),
        "-c", str(model.slots * model.context), "-np", str(model.slots), "--swa-full",
        "--jinja", "--no-webui",
    ]  # fmt: skip
    if model.template is not None:
        template = tmp / "template.jinja"
        template.write_text(model.template)
        cmd += ["--chat-template-file", str(template)]
    return cmd


class ProcessTree:
    """Samples a server's process tree: the peak of its summed resident memory, and per
    process (last sample) its CPU seconds, thread count and the CPUs its threads may use."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0
        self.procs: dict[int, dict[str, Any]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            procs = _tree(self.pid)
            self.peak = max(self.peak, sum(p["rss"] for p in procs.values()))
            self.procs.update(procs)

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        self._thread.join()
        return {
            "peak_rss_mb": self.peak / 2**20,
            "processes": [
                {"name": p["name"], "cpu_s": p["cpu_s"], "threads": p["threads"],
                 "affinity": sorted(p["affinity"])}
                for p in self.procs.values()
            ],
        }  # fmt: skip


def _tree(root: int) -> dict[int, dict[str, Any]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    out, todo = {}, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        try:
            out[pid] = _process(Path(f"/proc/{pid}"))
        except OSError:
            continue
    return out


def _process(proc: Path) -> dict[str, Any]:
    stat = (proc / "stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    status = dict(
        line.split(":", 1) for line in (proc / "status").read_text().splitlines() if ":" in line
    )
    affinity = set()
    for task in (proc / "task").iterdir():
        try:
            text = (task / "status").read_text()
        except OSError:
            continue
        line = next(x for x in text.splitlines() if x.startswith("Cpus_allowed_list:"))
        affinity.add(line.split(":", 1)[1].strip())
    tick = os.sysconf("SC_CLK_TCK")
    return {
        "name": (proc / "cmdline").read_bytes().split(b"\0")[0].decode()[-40:],
        "rss": int(status.get("VmRSS", "0 kB").split()[0]) * 1024,
        "cpu_s": (int(fields[11]) + int(fields[12])) / tick,
        "threads": int(status["Threads"]),
        "affinity": affinity,
    }


def wait_ready(
    base_url: str, model: str, proc: subprocess.Popen[bytes], timeout: float = 300
) -> None:
    body = {"model": model, "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
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


def bench(
    label: str, cmd: list[str], base_url: str, model: str, log: Path, argv: list[str]
) -> dict[str, Any]:
    print(f"== {label}: {' '.join(cmd)}", flush=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    tree = ProcessTree(proc.pid)
    try:
        wait_ready(base_url, model, proc)
        args = bench_serving.parse_args(
            ["--base-url", base_url, "--model", model, "--label", label, "--ignore-eos", *argv]
        )
        report = asyncio.run(bench_serving.run(args))
        report.update(tree.stop())
        report["load_after"] = os.getloadavg()[0]
        bench_serving.print_report(report)
        print(f"   peak RSS {report['peak_rss_mb']:.0f} MB", flush=True)
        for p in report["processes"]:
            print(f"   {p['name']}: {p['cpu_s']:.1f} CPU s, {p['threads']} threads, "
                  f"CPUs {p['affinity']}")  # fmt: skip
        return report
    finally:
        tree.stop()
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


def _median(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def _targets(runs: list[dict[str, dict[str, Any]]], names: list[str]) -> list[str]:
    """The issue's measures, median over the repeats, each glmserve side vs llama-server."""
    f = bench_serving._fmt
    vs = [n for n in names if n != REF] if REF in names else []
    lines = [
        "| measure (median of repeats) | " + " | ".join(names)
        + "".join(f" | {n} vs {REF}" for n in vs) + " | target |",
        "|---" * (2 + len(names) + len(vs)) + "|",
    ]  # fmt: skip

    def row(label: str, get: Any, how: str, target: str, digits: int = 1) -> None:
        values = {n: _median([get(run[n]) for run in runs]) for n in names}
        cells = [f(values[n], digits) for n in names]
        for n in vs:
            a, b = values[n], values[REF]
            if how == "none":
                cells.append("")
            elif a is None or b is None:
                cells.append("-")
            elif how == "ratio":
                cells.append(ratio(a, b))
            else:
                cells.append(f"{a - b:+.{digits}f}")
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")

    levels = runs[0][names[0]]["throughput"]
    row("single-stream decode tok/s (c=1)", lambda r: r["throughput"][0]["stream_tok_s"],
        "ratio", ">= 1.0x")  # fmt: skip
    for k, level in enumerate(levels[1:], 1):
        c = level["concurrency"]
        row(f"aggregate output tok/s, c={c}",
            lambda r, k=k: r["throughput"][k]["aggregate_tok_s"], "ratio", ">= 1.0x")  # fmt: skip
    row("streaming TTFT p50 ms, short prompt, c=1",
        lambda r: r["throughput"][0]["ttft_p50_ms"], "diff", "<= +10 ms")  # fmt: skip
    if all(run[n]["prefix"] for run in runs for n in names):
        row("cold TTFT ms, ~2,000-token prompt",
            lambda r: r["prefix"]["cold_ttft_ms"], "ratio", "<= 1.05x")  # fmt: skip
        row("warm TTFT ms (same prefix, new suffix)",
            lambda r: r["prefix"]["warm_ttft_ms"], "ratio", "")  # fmt: skip
        row("warm / cold TTFT", lambda r: r["prefix"]["warm_over_cold"], "none", "<= 0.1", 3)
    row("peak RSS MB, all processes", lambda r: r["peak_rss_mb"], "diff", "<= +300 MB", 0)
    return lines


def markdown(results: dict[str, list[dict[str, dict[str, Any]]]], facts: dict[str, str]) -> str:
    lines = [f"# glmserve vs llama-server ({facts['date']})", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items() if k != "date"]
    for model, runs in results.items():
        if not runs:
            continue
        names = sorted(runs[0], key=lambda n: (n == REF, n))  # the same order in every table
        lines += ["", f"## {model}", "", *_targets(runs, names)]
        for i, run in enumerate(runs, 1):
            loads = ", ".join(f"{n} {run[n]['load_after']:.2f}" for n in names)
            lines += ["", f"### {model}, repeat {i} (load average after each: {loads})", ""]
            lines += _table(run, names)
    return "\n".join(lines) + "\n"


def machine_facts(threads: int, argv: list[str]) -> dict[str, str]:
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
        "setup": f"{threads} threads; greedy, ignore_eos; harness options {argv or 'default'}",
        "llama.cpp flags": flags,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=default_threads())
    ap.add_argument("--models", default="gemma,glm-moe", help="gemma, glm-moe (comma-separated)")
    ap.add_argument("--port", type=int, default=18431, help="glmserve; llama-server gets +1")
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--invariant", action="store_true", help="add a batch_invariant=true side")
    ap.add_argument("--render", type=Path, help="print the tables of a (partial) JSON and exit")
    args, harness_argv = ap.parse_known_args()
    if args.render:
        saved = json.loads(args.render.read_text())
        results = {m: [r for r in runs if REF in r] for m, runs in saved["results"].items()}
        print(markdown(results, saved["facts"]))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    facts = machine_facts(args.threads, harness_argv)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    raw = args.out / f"{stamp}.json"
    results: dict[str, list[dict[str, dict[str, Any]]]] = {}
    with tempfile.TemporaryDirectory(prefix="glmserve-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for model in models(args.models.split(",")):
            facts[model.name] = (
                f"{(model.gguf or default_model_path()).name}, {model.slots} slots of "
                f"{model.context} tokens (glmserve serves it as {model.code})"
            )
            sides = {
                "glmserve": glmserve_cmd(tmp, args.port, args.threads, model),
                REF: llama_server_cmd(tmp, args.port + 1, args.threads, model),
            }
            urls = {"glmserve": f"http://127.0.0.1:{args.port}/api/paas/v4",
                    REF: f"http://127.0.0.1:{args.port + 1}/v1"}  # fmt: skip
            if args.invariant:
                sides["glmserve-invariant"] = glmserve_cmd(
                    tmp, args.port + 2, args.threads, model, invariant=True
                )
                urls["glmserve-invariant"] = f"http://127.0.0.1:{args.port + 2}/api/paas/v4"
            runs = results.setdefault(model.name, [])
            for i in range(args.repeat):
                order = list(sides) if i % 2 == 0 else list(reversed(sides))  # alternate
                run: dict[str, dict[str, Any]] = {}
                for label in order:
                    log = args.out / f"{stamp}-{model.name}-{label}.log"
                    argv = [*harness_argv, "--run-tag", f"{stamp}-{model.name}-{i}"]
                    run[label] = bench(label, sides[label], urls[label], model.code, log, argv)
                    raw.write_text(json.dumps({"facts": facts, "results": results | {
                        model.name: [*runs, run]}}, indent=2))  # fmt: skip
                runs.append(run)
    table = markdown(results, facts)
    (args.out / f"{stamp}.md").write_text(table)
    print("\n" + table)
    print(f"written: {args.out / stamp}.md and .json")


if __name__ == "__main__":
    main()
