"""A tiny GGUF that speaks GLM's format, built at test time.

A one-layer llama-architecture model with random weights (it cannot write anything
sensible: tests force its output through the engine's test-only forced-token sampler),
a SentencePiece vocabulary with byte fallback (so any text tokenizes), GLM's special
tokens as single control tokens, GLM's end-of-turn tokens (``<|user|>`` as EOT,
``<|observation|>`` as EOM, ``<|endoftext|>`` as EOS), and the official GLM-4.7 chat
template in its metadata.
"""

from __future__ import annotations

import string
from pathlib import Path

import gguf
import numpy as np

GLM_SPECIALS = (
    "<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>",
    "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>",
    "<think>", "</think>", "<tool_call>", "</tool_call>",
    "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>",
    "<tool_response>", "</tool_response>", "/nothink",
)  # fmt: skip

EMBED, FF, HEADS, CONTEXT = 32, 64, 2, 2048


def _vocab() -> tuple[list[str], list[int]]:
    tokens = ["<unk>", "<s>", "</s>"]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    tokens += [f"<0x{b:02X}>" for b in range(256)]
    types += [gguf.TokenType.BYTE] * 256
    tokens += list(GLM_SPECIALS)
    types += [gguf.TokenType.CONTROL] * len(GLM_SPECIALS)
    normal = ["▁", *string.ascii_letters, *string.digits, *".,:;!?'\"-_(){}[]"]
    tokens += normal
    types += [gguf.TokenType.NORMAL] * len(normal)
    return tokens, [int(t) for t in types]


def build(path: Path, chat_template: str | None) -> Path:
    tokens, types = _vocab()
    rng = np.random.default_rng(0)
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(1)
    writer.add_feed_forward_length(FF)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(EMBED // HEADS)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_bos_token_id(tokens.index("[gMASK]"))
    writer.add_eos_token_id(tokens.index("<|endoftext|>"))
    writer.add_eot_token_id(tokens.index("<|user|>"))
    writer.add_eom_token_id(tokens.index("<|observation|>"))
    writer.add_add_bos_token(False)  # the template writes [gMASK]<sop> itself
    writer.add_add_space_prefix(False)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    def weight(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.02).astype(np.float32)

    n = len(tokens)
    writer.add_tensor("token_embd.weight", weight(n, EMBED))
    writer.add_tensor("output_norm.weight", np.ones(EMBED, dtype=np.float32))
    writer.add_tensor("output.weight", weight(n, EMBED))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(EMBED, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{name}.weight", weight(EMBED, EMBED))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(EMBED, dtype=np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", weight(FF, EMBED))
    writer.add_tensor("blk.0.ffn_up.weight", weight(FF, EMBED))
    writer.add_tensor("blk.0.ffn_down.weight", weight(EMBED, FF))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
