"""Embedding throughput of the engine process: one request at a time, and many at once
(their inputs share decodes).

    .venv/bin/python benchmarks/bench_embeddings.py [--requests 32] [--inputs 8]

The default embedding model (all-MiniLM-L6-v2, F32) in its engine process
(``EmbeddingEngine``, batch size 1024 tokens); ``--requests`` requests of ``--inputs``
sentences each (about 15 tokens per sentence), first sent one after the other, then all
at once. Prints inputs per second and tokens per second for both.
"""

from __future__ import annotations

import argparse
import asyncio
import time

from glmserve.config import default_threads
from glmserve.engine.llama.embedding_weights import default_embedding_path
from glmserve.engine.llama.embedding_worker import EmbeddingEngine, EmbeddingEngineSpec

TEXT = (
    "the quick brown fox jumps over a lazy dog while servers answer embedding requests "
    "for retrieval augmented generation pipelines in many languages every day"
)
WORDS = TEXT.split()


def _sentence(i: int) -> str:
    return " ".join(WORDS[(i + k) % len(WORDS)] for k in range(12)) + f" number {i}."


async def _run(engine: EmbeddingEngine, requests: int, inputs: int) -> None:
    batches = [
        [engine.tokenize(_sentence(r * inputs + k)) for k in range(inputs)] for r in range(requests)
    ]
    tokens = sum(len(ids) for batch in batches for ids in batch)
    await engine.embed(batches[0])  # warm-up
    rows = []
    start = time.perf_counter()
    for batch in batches:
        await engine.embed(batch)
    rows.append(("one at a time", time.perf_counter() - start))
    start = time.perf_counter()
    await asyncio.gather(*(engine.embed(batch) for batch in batches))
    rows.append(("all at once", time.perf_counter() - start))
    print(f"{requests} requests x {inputs} inputs, {tokens} tokens, {default_threads()} threads")
    print(f"{'mode':<16}{'seconds':>10}{'inputs/s':>12}{'tokens/s':>12}")
    for name, seconds in rows:
        n = requests * inputs
        print(f"{name:<16}{seconds:>10.2f}{n / seconds:>12.0f}{tokens / seconds:>12.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--inputs", type=int, default=8)
    args = parser.parse_args()
    spec = EmbeddingEngineSpec(default_embedding_path(), threads=default_threads(), batch_size=1024)
    engine = EmbeddingEngine(spec)
    try:
        asyncio.run(_run(engine, args.requests, args.inputs))
    finally:
        engine.close()


if __name__ == "__main__":
    main()
