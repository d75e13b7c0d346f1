"""A tiny vision-language model built at test time: a GLM-flavoured language model and a
projector GGUF that llama.cpp's multimodal library (libmtmd) loads.

The language model is a one-layer llama-architecture model with random weights, a
byte-fallback vocabulary with GLM's special tokens (the image and video markers
included) and a small GLM-V style chat template. The projector is a two-block ViT with
random weights and a LLaVA-style MLP projector (``clip.projector_type = "mlp"``): the
simplest projector llama.cpp supports whose image tokens take one position each. Every
image is resized to ``IMAGE_SIZE`` pixels square and becomes ``IMAGE_TOKENS`` embeddings.

``tiny_vision_model(cache)`` builds both files once into ``cache`` and returns their paths.
"""

from __future__ import annotations

import string
from pathlib import Path

import gguf
import numpy as np

__all__ = ["IMAGE_SIZE", "IMAGE_TOKENS", "TEMPLATE", "build", "build_mrope", "tiny_vision_model"]

GLM_SPECIALS = (
    "<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>",
    "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>",
    "<|begin_of_image|>", "<|end_of_image|>", "<|image|>",
    "<|begin_of_video|>", "<|end_of_video|>", "<|video|>",
    "<think>", "</think>", "<tool_call>", "</tool_call>",
    "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>",
    "<tool_response>", "</tool_response>", "/nothink",
)  # fmt: skip

# A GLM-V style template (written for these tests): string content is printed as is;
# list content prints text parts and one image block per image part.
TEMPLATE = """[gMASK]<sop>
{%- for m in messages -%}
{%- if m.role == 'system' -%}<|system|>
{{ m.content }}
{%- elif m.role == 'user' -%}<|user|>
{% if m.content is string -%}{{ m.content }}{%- else -%}
{%- for part in m.content -%}
{%- if part.type != 'text' -%}<|begin_of_image|><|image|><|end_of_image|>
{%- else -%}{{ part.text }}{%- endif -%}
{%- endfor -%}{%- endif -%}
{%- elif m.role == 'assistant' -%}<|assistant|>
{{ m.content }}
{%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}<|assistant|>
{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}
{%- endif -%}"""

EMBED, FF, HEADS, CONTEXT = 32, 64, 2, 2048
V_EMBED, V_FF, V_HEADS, V_BLOCKS = 32, 64, 2, 2
IMAGE_SIZE, PATCH = 32, 8
IMAGE_TOKENS = (IMAGE_SIZE // PATCH) ** 2


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


def _weight(rng: np.random.Generator, *shape: int, scale: float = 0.02) -> np.ndarray:
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def build_language_model(path: Path) -> Path:
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
    writer.add_chat_template(TEMPLATE)
    n = len(tokens)
    # Larger weights than a trained model's, so that an image's embeddings move the
    # greedy choice (two images must give two different answers).
    writer.add_tensor("token_embd.weight", _weight(rng, n, EMBED, scale=1.0))
    writer.add_tensor("output_norm.weight", np.ones(EMBED, dtype=np.float32))
    writer.add_tensor("output.weight", _weight(rng, n, EMBED, scale=1.0))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(EMBED, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
        writer.add_tensor(f"blk.0.{name}.weight", _weight(rng, EMBED, EMBED, scale=0.3))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(EMBED, dtype=np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", _weight(rng, FF, EMBED, scale=0.3))
    writer.add_tensor("blk.0.ffn_up.weight", _weight(rng, FF, EMBED, scale=0.3))
    writer.add_tensor("blk.0.ffn_down.weight", _weight(rng, EMBED, FF, scale=0.3))
    _finish(writer)
    return path


def build_projector(path: Path) -> Path:
    rng = np.random.default_rng(1)
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_string("clip.projector_type", "mlp")
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", IMAGE_SIZE)
    writer.add_uint32("clip.vision.patch_size", PATCH)
    writer.add_uint32("clip.vision.embedding_length", V_EMBED)
    writer.add_uint32("clip.vision.feed_forward_length", V_FF)
    writer.add_uint32("clip.vision.projection_dim", EMBED)
    writer.add_uint32("clip.vision.block_count", V_BLOCKS)
    writer.add_uint32("clip.vision.attention.head_count", V_HEADS)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-5)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    n_pos = IMAGE_TOKENS + 1  # the patches and the class embedding
    writer.add_tensor("v.patch_embd.weight", _weight(rng, V_EMBED, 3, PATCH, PATCH, scale=0.5))
    writer.add_tensor("v.class_embd", _weight(rng, V_EMBED))
    writer.add_tensor("v.position_embd.weight", _weight(rng, n_pos, V_EMBED, scale=0.5))
    for i in range(V_BLOCKS):
        for name in ("ln1", "ln2"):
            writer.add_tensor(f"v.blk.{i}.{name}.weight", np.ones(V_EMBED, dtype=np.float32))
            writer.add_tensor(f"v.blk.{i}.{name}.bias", np.zeros(V_EMBED, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            writer.add_tensor(f"v.blk.{i}.{name}.weight", _weight(rng, V_EMBED, V_EMBED, scale=0.3))
            writer.add_tensor(f"v.blk.{i}.{name}.bias", np.zeros(V_EMBED, dtype=np.float32))
        writer.add_tensor(f"v.blk.{i}.ffn_up.weight", _weight(rng, V_FF, V_EMBED, scale=0.3))
        writer.add_tensor(f"v.blk.{i}.ffn_up.bias", np.zeros(V_FF, dtype=np.float32))
        writer.add_tensor(f"v.blk.{i}.ffn_down.weight", _weight(rng, V_EMBED, V_FF, scale=0.3))
        writer.add_tensor(f"v.blk.{i}.ffn_down.bias", np.zeros(V_EMBED, dtype=np.float32))
    writer.add_tensor("mm.0.weight", _weight(rng, EMBED, V_EMBED, scale=1.0))
    writer.add_tensor("mm.0.bias", np.zeros(EMBED, dtype=np.float32))
    writer.add_tensor("mm.2.weight", _weight(rng, EMBED, EMBED, scale=1.0))
    writer.add_tensor("mm.2.bias", np.zeros(EMBED, dtype=np.float32))
    _finish(writer)
    return path


def _finish(writer: gguf.GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def build(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return (
        build_language_model(folder / "tiny-glm-v.gguf"),
        build_projector(folder / "mmproj-tiny-glm-v.gguf"),
    )


def tiny_vision_model(cache: Path) -> tuple[Path, Path]:
    """The (language model, projector) pair, built once into ``cache``."""
    model, projector = cache / "tiny-glm-v.gguf", cache / "mmproj-tiny-glm-v.gguf"
    if not (model.is_file() and projector.is_file()):
        return build(cache)
    return model, projector


# -- an M-RoPE pair: a Qwen2-VL style model, whose images take fewer positions than
# tokens, as GLM-4.1V/4.5V/4.6V's do (the "glm4v" projector places images the same way).

MROPE_PATCH = 8


def build_mrope_language_model(path: Path) -> Path:
    tokens, types = _vocab()
    rng = np.random.default_rng(2)
    writer = gguf.GGUFWriter(str(path), "qwen2vl")
    head = EMBED // HEADS
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(EMBED)
    writer.add_block_count(1)
    writer.add_feed_forward_length(FF)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(HEADS)
    writer.add_rope_dimension_count(head)
    writer.add_rope_dimension_sections([2, 3, 3, 0])  # sums to head / 2
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * len(tokens))
    writer.add_token_types(types)
    writer.add_bos_token_id(tokens.index("[gMASK]"))
    writer.add_eos_token_id(tokens.index("<|endoftext|>"))
    writer.add_add_bos_token(False)
    writer.add_add_space_prefix(False)
    writer.add_chat_template(TEMPLATE)
    n = len(tokens)
    writer.add_tensor("token_embd.weight", _weight(rng, n, EMBED, scale=1.0))
    writer.add_tensor("output_norm.weight", np.ones(EMBED, dtype=np.float32))
    writer.add_tensor("output.weight", _weight(rng, n, EMBED, scale=1.0))
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(EMBED, dtype=np.float32))
    for name in ("attn_q", "attn_k", "attn_v"):
        writer.add_tensor(f"blk.0.{name}.weight", _weight(rng, EMBED, EMBED, scale=0.3))
        writer.add_tensor(f"blk.0.{name}.bias", np.zeros(EMBED, dtype=np.float32))
    writer.add_tensor("blk.0.attn_output.weight", _weight(rng, EMBED, EMBED, scale=0.3))
    writer.add_tensor("blk.0.ffn_norm.weight", np.ones(EMBED, dtype=np.float32))
    writer.add_tensor("blk.0.ffn_gate.weight", _weight(rng, FF, EMBED, scale=0.3))
    writer.add_tensor("blk.0.ffn_up.weight", _weight(rng, FF, EMBED, scale=0.3))
    writer.add_tensor("blk.0.ffn_down.weight", _weight(rng, EMBED, FF, scale=0.3))
    _finish(writer)
    return path


def build_mrope_projector(path: Path) -> Path:
    rng = np.random.default_rng(3)
    writer = gguf.GGUFWriter(str(path), "clip")
    writer.add_bool("clip.has_vision_encoder", True)
    writer.add_string("clip.projector_type", "qwen2vl_merger")
    writer.add_bool("clip.use_gelu", True)
    writer.add_uint32("clip.vision.image_size", 64)
    writer.add_uint32("clip.vision.patch_size", MROPE_PATCH)
    writer.add_uint32("clip.vision.embedding_length", V_EMBED)
    writer.add_uint32("clip.vision.feed_forward_length", V_FF)
    writer.add_uint32("clip.vision.projection_dim", EMBED)
    writer.add_uint32("clip.vision.block_count", V_BLOCKS)
    writer.add_uint32("clip.vision.attention.head_count", V_HEADS)
    writer.add_float32("clip.vision.attention.layer_norm_epsilon", 1e-6)
    writer.add_uint32("clip.vision.image_min_pixels", 16 * 16)
    writer.add_uint32("clip.vision.image_max_pixels", 128 * 128)
    writer.add_array("clip.vision.image_mean", [0.5, 0.5, 0.5])
    writer.add_array("clip.vision.image_std", [0.5, 0.5, 0.5])
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    p = MROPE_PATCH
    writer.add_tensor("v.patch_embd.weight", _weight(rng, V_EMBED, 3, p, p, scale=0.5))
    writer.add_tensor("v.patch_embd.weight.1", _weight(rng, V_EMBED, 3, p, p, scale=0.5))
    for i in range(V_BLOCKS):
        for name in ("ln1", "ln2"):
            writer.add_tensor(f"v.blk.{i}.{name}.weight", np.ones(V_EMBED, dtype=np.float32))
            writer.add_tensor(f"v.blk.{i}.{name}.bias", np.zeros(V_EMBED, dtype=np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_out"):
            writer.add_tensor(f"v.blk.{i}.{name}.weight", _weight(rng, V_EMBED, V_EMBED, scale=0.3))
            writer.add_tensor(f"v.blk.{i}.{name}.bias", np.zeros(V_EMBED, dtype=np.float32))
        writer.add_tensor(f"v.blk.{i}.ffn_up.weight", _weight(rng, V_FF, V_EMBED, scale=0.3))
        writer.add_tensor(f"v.blk.{i}.ffn_up.bias", np.zeros(V_FF, dtype=np.float32))
        writer.add_tensor(f"v.blk.{i}.ffn_down.weight", _weight(rng, V_EMBED, V_FF, scale=0.3))
        writer.add_tensor(f"v.blk.{i}.ffn_down.bias", np.zeros(V_EMBED, dtype=np.float32))
    writer.add_tensor("v.post_ln.weight", np.ones(V_EMBED, dtype=np.float32))
    writer.add_tensor("v.post_ln.bias", np.zeros(V_EMBED, dtype=np.float32))
    merged = V_EMBED * 4  # 2 x 2 patches merged into one token
    writer.add_tensor("mm.0.weight", _weight(rng, merged, merged, scale=0.5))
    writer.add_tensor("mm.0.bias", np.zeros(merged, dtype=np.float32))
    writer.add_tensor("mm.2.weight", _weight(rng, EMBED, merged, scale=0.5))
    writer.add_tensor("mm.2.bias", np.zeros(EMBED, dtype=np.float32))
    _finish(writer)
    return path


def build_mrope(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    return (
        build_mrope_language_model(folder / "tiny-mrope.gguf"),
        build_mrope_projector(folder / "mmproj-tiny-mrope.gguf"),
    )
