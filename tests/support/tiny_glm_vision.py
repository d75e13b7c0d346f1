"""A tiny randomly initialised GLM-4.1V-class vision model in Hugging Face format, for a
real vLLM worker.

``tiny_glm_vision_dir()`` returns the model's folder, building it on first use into the
user's cache (``~/.cache/glmserve/tiny-glm-vision-<key>``, keyed by this file, the text
model's builder and the chat template). It is what a GLM-4.1V/4.5V/4.6V checkpoint has,
scaled down: ``config.json`` for transformers' ``Glm4vForConditionalGeneration`` (a
one-block vision tower with 14-pixel patches merged 2 x 2, a two-layer GLM-4 language
model with M-RoPE), random weights (seed 0), the byte-level BPE tokenizer of
tiny_glm_moe.py with GLM-V's image and video tokens added, the processor's configs
(``preprocessor_config.json`` for ``Glm4vImageProcessor``'s PIL variant, the
processor's own; no video processor, which needs torchvision) with small pixel bounds
so images stay a few tokens, and the GLM-4.5 chat template.

Like tiny_glm_moe.py, building needs torch and transformers and runs under the cached
vLLM virtualenv's Python when they are not importable here; run as a script
(``python tests/support/tiny_glm_vision.py OUT_DIR``) it builds into ``OUT_DIR``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

if __name__ == "__main__":  # run as a script by the builder Python: find the project
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support import tiny_glm_moe
from tests.support.shared import glm_template

__all__ = ["IMAGE_TOKENS", "MAX_PIXELS", "MIN_PIXELS", "PATCH", "build", "tiny_glm_vision_dir"]

TEMPLATE = glm_template("glm-4.5")
IMAGE_TOKENS = (
    "<|begin_of_image|>", "<|end_of_image|>", "<|begin_of_video|>", "<|end_of_video|>",
    "<|image|>", "<|video|>",
)  # fmt: skip
PATCH, MERGE, TEMPORAL = 14, 2, 2
# Pixel bounds of the resize (the processor's size.shortest_edge / longest_edge, which
# count the two temporal copies of an image): 28 x 28 to 112 x 112 pixels, so an image
# takes 1 to 16 tokens.
MIN_PIXELS = TEMPORAL * 28 * 28
MAX_PIXELS = TEMPORAL * 112 * 112

TEXT = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "max_position_embeddings": 4096,
    # GLM-4.1V's rotary layout, scaled: half of each 32-wide head rotates, its 8
    # frequency pairs split over time, height and width.
    "rope_parameters": {
        "rope_type": "default",
        "rope_theta": 10000.0,
        "partial_rotary_factor": 0.5,
        "mrope_section": [2, 3, 3],
    },
}
VISION = {
    "depth": 1,
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_heads": 2,
    "patch_size": PATCH,
    "spatial_merge_size": MERGE,
    "temporal_patch_size": TEMPORAL,
    "image_size": 112,
    "out_hidden_size": 64,
}


def _tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import AddedToken

    tok = tiny_glm_moe._tokenizer()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in IMAGE_TOKENS])
    return tok


def build(out: Path) -> Path:
    """Writes the model folder into ``out`` (needs torch, transformers, tokenizers)."""
    import torch
    from transformers import (
        Glm4vConfig,
        Glm4vForConditionalGeneration,
        Glm4vImageProcessorPil,
        PreTrainedTokenizerFast,
    )

    out.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer()
    ids = {t: tok.token_to_id(t) for t in IMAGE_TOKENS}
    eos = [tok.token_to_id(t) for t in tiny_glm_moe.EOS_TOKENS]
    template = TEMPLATE.read_text()

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=TEXT["max_position_embeddings"],
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )
    size = {"shortest_edge": MIN_PIXELS, "longest_edge": MAX_PIXELS}
    images = Glm4vImageProcessorPil(
        size=size, patch_size=PATCH, merge_size=MERGE, temporal_patch_size=TEMPORAL
    )
    images.save_pretrained(out)  # preprocessor_config.json, as GLM-V checkpoints have it
    fast.save_pretrained(out)
    # transformers' Glm4vProcessor cannot be built here: it requires a video processor,
    # which needs torchvision, which the vLLM virtualenv leaves out (its PyPI builds are
    # CUDA-linked; scripts/install-vllm.sh). The processor's own config is written as
    # GLM-V checkpoints have it.
    (out / "processor_config.json").write_text(json.dumps({"processor_class": "Glm4vProcessor"}))
    (out / "chat_template.jinja").write_text(template)

    torch.manual_seed(0)
    config = Glm4vConfig(
        text_config={
            **TEXT,
            "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "pad_token_id": eos[0],
        },
        vision_config=VISION,
        image_token_id=ids["<|image|>"],
        video_token_id=ids["<|video|>"],
        image_start_token_id=ids["<|begin_of_image|>"],
        image_end_token_id=ids["<|end_of_image|>"],
        video_start_token_id=ids["<|begin_of_video|>"],
        video_end_token_id=ids["<|end_of_video|>"],
        eos_token_id=eos,
        pad_token_id=eos[0],
        tie_word_embeddings=False,
    )
    model = Glm4vForConditionalGeneration(config).to(torch.float32)
    with torch.no_grad():  # larger weights, so an image's embeddings move the greedy choice
        for name, param in model.named_parameters():
            if "visual" in name and param.dim() > 1:
                param.mul_(8.0)
    model.save_pretrained(out)
    generation = {"_from_model_config": False, "eos_token_id": eos, "pad_token_id": eos[0]}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2))
    return out


def _key() -> str:
    digest = hashlib.sha256(
        Path(__file__).read_bytes()
        + Path(tiny_glm_moe.__file__).read_bytes()
        + TEMPLATE.read_bytes()
    )
    return digest.hexdigest()[:16]


def tiny_glm_vision_dir(cache: Path | None = None) -> Path:
    """The tiny vision model's folder, built on first use and then reused."""
    base = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "glmserve"
    path = base / f"tiny-glm-vision-{_key()}"
    if (path / "config.json").is_file():
        return path
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run([tiny_glm_moe._builder_python(), __file__, str(tmp)], check=True)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


if __name__ == "__main__":
    build(Path(sys.argv[1]))
