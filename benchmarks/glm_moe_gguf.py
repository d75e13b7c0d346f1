"""A GLM-shaped MoE benchmark model: llama.cpp's ``glm4moe`` architecture, scaled down.

    .venv/bin/python benchmarks/glm_moe_gguf.py        # builds (once) and prints the path

What GLM-4.5-Air/4.6/4.7 are, smaller: a dense first layer, then MoE layers with routed
experts (sigmoid gating, a few active per token) and one shared expert, grouped-query
attention with biases and partial rotary embedding, GLM's vocabulary size (151,552) with
GLM's special tokens at GLM's ids, and the official GLM-4.7 chat template. Weights are
random (seed 0): the model writes random text, which does not matter for speed
(benchmarks send ``ignore_eos``). The normal vocabulary is a real byte-level BPE
(tests/support/bpe.py); the ids up to GLM's size are unused filler.

The GGUF is written in F16 with the ``gguf`` package, tensor by tensor (never the whole
model in memory), then quantized to Q4_K_M with llama.cpp's ``llama-quantize`` from
benchmarks/build_llama_server.sh (the same llama.cpp as the benchmark's llama-server;
gguf-py cannot write K-quants). The result is cached in ~/.cache/glmserve/bench-models/
under a key of this file and the shape.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import gguf
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.support.bpe import vocabulary  # noqa: E402
from tests.support.scripted_glm import GLM47_TEMPLATE, GLM_SPECIALS  # noqa: E402

GLM_VOCAB = 151552
GLM_FIRST_SPECIAL = 151329  # <|endoftext|> in GLM-4.5/4.6/4.7; the others follow it


@dataclass(frozen=True)
class Shape:
    embed: int = 1024
    layers: int = 10
    dense_layers: int = 1
    dense_ff: int = 2816
    heads: int = 8
    kv_heads: int = 2
    head_dim: int = 128
    experts: int = 48
    experts_used: int = 4
    expert_ff: int = 512
    shared_experts: int = 1
    context: int = 4096

    def params(self) -> int:
        attn = self.embed * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        moe = 3 * self.embed * self.expert_ff * (self.experts + self.shared_experts)
        dense = 3 * self.embed * self.dense_ff
        moe_layers = self.layers - self.dense_layers
        return (
            2 * GLM_VOCAB * self.embed
            + self.layers * attn
            + self.dense_layers * dense
            + (moe_layers * (moe + self.embed * self.experts))
        )


BENCH = Shape()
"""About 1.0B parameters, about 0.25B active per token (the output matrix included)."""


def cache_dir() -> Path:
    return (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "glmserve" / "bench-models"
    )


def build(out: Path, shape: Shape = BENCH, *, seed: int = 0) -> Path:
    """Write the F16 GGUF to ``out``."""
    texts, types = _vocabulary()
    ids = {t: i for i, t in enumerate(texts)}
    writer = gguf.GGUFWriter(str(out), "glm4moe")
    _metadata(writer, shape, texts, types, ids)
    rng = np.random.default_rng(seed)
    tensors = list(_tensors(shape))
    for name, dims, kind in tensors:
        dtype = np.float16 if kind == "w" else np.float32
        writer.add_tensor_info(
            name, dims, np.dtype(dtype), int(np.prod(dims)) * np.dtype(dtype).itemsize
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, dims, kind in tensors:
        writer.write_tensor_data(_values(rng, dims, kind, shape))
    writer.close()
    return out


def quantize(f16: Path, out: Path, kind: str = "Q4_K_M") -> Path:
    server = subprocess.run(
        [str(ROOT / "benchmarks" / "build_llama_server.sh"), "--cache"],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    tool = Path(server).with_name("llama-quantize")
    threads = str(os.cpu_count() or 1)
    subprocess.run([str(tool), str(f16), str(out), kind, threads], check=True, capture_output=True)
    return out


def bench_model(shape: Shape = BENCH) -> Path:
    """The Q4_K_M benchmark model, built on first use (a few minutes) and then reused."""
    key = hashlib.sha256(
        Path(__file__).read_bytes()
        + GLM47_TEMPLATE.read_bytes()
        + json.dumps(asdict(shape)).encode()
    ).hexdigest()[:16]
    path = cache_dir() / f"glm-moe-{key}-q4_k_m.gguf"
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    f16 = path.with_name(f"{path.stem}.{os.getpid()}.f16.gguf")
    tmp = path.with_name(f"{path.stem}.{os.getpid()}.tmp")
    try:
        quantize(build(f16, shape), tmp)
        os.replace(tmp, path)
    finally:
        f16.unlink(missing_ok=True)
        tmp.unlink(missing_ok=True)
    return path


def _vocabulary() -> tuple[list[bytes], list[int]]:
    """BPE tokens, unused filler, GLM's special tokens from GLM's first special id."""
    texts = [t.encode() for t in vocabulary().tokens]
    types = [int(gguf.TokenType.NORMAL)] * len(texts)

    def fill(upto: int) -> None:
        while len(texts) < upto:
            texts.append(f"<|unused_{len(texts)}|>".encode())
            types.append(int(gguf.TokenType.UNUSED))

    fill(GLM_FIRST_SPECIAL)
    for text, control in GLM_SPECIALS.items():
        texts.append(text.encode())
        types.append(int(gguf.TokenType.CONTROL if control else gguf.TokenType.USER_DEFINED))
    fill(GLM_VOCAB)
    return texts, types


def _metadata(
    w: gguf.GGUFWriter, s: Shape, texts: list[bytes], types: list[int], ids: dict[bytes, int]
) -> None:
    w.add_name("glm-moe-bench")
    w.add_context_length(s.context)
    w.add_embedding_length(s.embed)
    w.add_block_count(s.layers)
    w.add_feed_forward_length(s.dense_ff)
    w.add_head_count(s.heads)
    w.add_head_count_kv(s.kv_heads)
    w.add_key_length(s.head_dim)
    w.add_value_length(s.head_dim)
    w.add_rope_dimension_count(s.head_dim // 2)  # GLM rotates half of each head
    w.add_rope_freq_base(1e6)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_expert_count(s.experts)
    w.add_expert_used_count(s.experts_used)
    w.add_expert_feed_forward_length(s.expert_ff)
    w.add_expert_shared_count(s.shared_experts)
    w.add_leading_dense_block_count(s.dense_layers)
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID)
    w.add_expert_weights_scale(1.0)
    w.add_expert_weights_norm(True)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("gpt-2")
    w.add_token_list(texts)
    w.add_token_types(types)
    w.add_token_merges([m.encode() for m in vocabulary().merges])
    w.add_bos_token_id(ids[b"[gMASK]"])
    w.add_eos_token_id(ids[b"<|endoftext|>"])
    w.add_eot_token_id(ids[b"<|user|>"])
    w.add_eom_token_id(ids[b"<|observation|>"])
    w.add_add_bos_token(False)  # the template writes [gMASK]<sop> itself
    w.add_chat_template(GLM47_TEMPLATE.read_text())


def _tensors(s: Shape) -> Iterator[tuple[str, tuple[int, ...], str]]:
    """(name, numpy shape, kind): "w" a weight (F16), "1" a norm, "0" a bias (F32)."""
    q, kv, e = s.heads * s.head_dim, s.kv_heads * s.head_dim, s.embed
    yield "token_embd.weight", (GLM_VOCAB, e), "w"
    yield "output_norm.weight", (e,), "1"
    yield "output.weight", (GLM_VOCAB, e), "w"
    for i in range(s.layers):
        b = f"blk.{i}"
        yield f"{b}.attn_norm.weight", (e,), "1"
        yield f"{b}.attn_q.weight", (q, e), "w"
        yield f"{b}.attn_q.bias", (q,), "0"
        yield f"{b}.attn_k.weight", (kv, e), "w"
        yield f"{b}.attn_k.bias", (kv,), "0"
        yield f"{b}.attn_v.weight", (kv, e), "w"
        yield f"{b}.attn_v.bias", (kv,), "0"
        yield f"{b}.attn_output.weight", (e, q), "w"
        yield f"{b}.post_attention_norm.weight", (e,), "1"
        if i < s.dense_layers:
            yield f"{b}.ffn_gate.weight", (s.dense_ff, e), "w"
            yield f"{b}.ffn_up.weight", (s.dense_ff, e), "w"
            yield f"{b}.ffn_down.weight", (e, s.dense_ff), "w"
            continue
        ff, shared = s.expert_ff, s.expert_ff * s.shared_experts
        yield f"{b}.ffn_gate_inp.weight", (s.experts, e), "g"
        yield f"{b}.exp_probs_b.bias", (s.experts,), "0"
        yield f"{b}.ffn_gate_exps.weight", (s.experts, ff, e), "w"
        yield f"{b}.ffn_up_exps.weight", (s.experts, ff, e), "w"
        yield f"{b}.ffn_down_exps.weight", (s.experts, e, ff), "w"
        yield f"{b}.ffn_gate_shexp.weight", (shared, e), "w"
        yield f"{b}.ffn_up_shexp.weight", (shared, e), "w"
        yield f"{b}.ffn_down_shexp.weight", (e, shared), "w"


def _values(rng: np.random.Generator, dims: tuple[int, ...], kind: str, s: Shape) -> np.ndarray:
    if kind == "1":
        return np.ones(dims, np.float32)
    if kind == "0":
        return np.zeros(dims, np.float32)
    if kind == "g":  # the router: F32, as converted GLM checkpoints keep it
        return (rng.standard_normal(dims, np.float32) * 0.05).astype(np.float32)
    fan_in = dims[-1]
    return (rng.standard_normal(dims, np.float32) / np.sqrt(fan_in)).astype(np.float16)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.parse_args()
    print(f"about {BENCH.params() / 1e9:.2f}B parameters", file=sys.stderr)
    print(bench_model())


if __name__ == "__main__":
    main()
