"""A tiny randomly initialised GLM-4 MoE model in Hugging Face format, for real vLLM workers.

``tiny_glm_moe_dir()`` returns the model's folder, building it on first use into the user's
cache (``~/.cache/glmserve/tiny-glm-moe-<key>``, keyed by this file and the chat template,
so a change to either builds a new one). The folder is what a GLM checkpoint has, scaled
down: ``config.json`` for transformers' ``Glm4MoeForCausalLM`` (2 layers, the second one
MoE; hidden and MoE intermediate sizes are multiples of 32, which vLLM's CPU MoE kernel
needs), random weights (``model.safetensors``, seed 0), a byte-level BPE tokenizer
trained here on a small fixed text with GLM's special tokens (``tokenizer.json``,
``tokenizer_config.json``), the official GLM-4.7 chat template (``chat_template.jinja``)
and GLM's end-of-generation ids (``generation_config.json``).

Building needs torch and transformers, which glmserve's own virtualenv does not carry:
when they are not importable here, the builder runs under the Python of the cached vLLM
virtualenv (``scripts/install-vllm.sh``, through ``tests.support.workers.vllm_venv``, so
``GLMSERVE_TEST_WORKERS=optional`` skips instead of installing it), which has both. The
file is therefore also a script: ``python tests/support/tiny_glm_moe.py OUT_DIR`` builds
into ``OUT_DIR``; run so, it imports nothing from the project.
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

from tests.support.shared import glm_template

__all__ = [
    "EOS_TOKENS",
    "NON_SPECIAL_TOKENS",
    "SPECIAL_TOKENS",
    "TEMPLATE",
    "build",
    "tiny_glm_moe_dir",
]

TEMPLATE = glm_template("glm-4.7")

# As in GLM's own tokenizer: the turn and mask tokens are special (skipped when decoding
# with skip_special_tokens); the reasoning and tool-call tags are added tokens that are
# NOT special, so they survive decoding and the output parser sees them.
SPECIAL_TOKENS = (
    "<|endoftext|>", "[MASK]", "[gMASK]", "[sMASK]", "<sop>", "<eop>",
    "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>",
)  # fmt: skip
NON_SPECIAL_TOKENS = (
    "<think>", "</think>", "<tool_call>", "</tool_call>",
    "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>",
    "<tool_response>", "</tool_response>", "/nothink",
)  # fmt: skip
# generation_config.json's eos_token_id, as in GLM-4.5/4.6/4.7.
EOS_TOKENS = ("<|endoftext|>", "<|user|>", "<|observation|>")

BPE_VOCAB = 1024  # byte alphabet + merges, before the added tokens
MODEL = {
    "hidden_size": 64,
    "intermediate_size": 128,  # the dense MLP of the first layer
    "moe_intermediate_size": 64,
    "num_hidden_layers": 2,
    "first_k_dense_replace": 1,
    "num_attention_heads": 2,
    "num_key_value_heads": 1,
    "head_dim": 32,
    "attention_bias": True,  # as GLM-4.5/4.6/4.7
    "n_routed_experts": 4,
    "num_experts_per_tok": 2,
    "n_shared_experts": 1,
    "n_group": 1,
    "topk_group": 1,
    "max_position_embeddings": 4096,
}


_PROSE = (
    "the of and to in is you that it for on with as are this be at have from or "
    "one had by word but not what all were we when your can said there use an each "
    "which she do how their if will up other about out many then them these so some "
    "her would make like him into time has look two more write go see number no way "
    "could people my than first water been call who oil its now find long down day "
    "weather city Paris Tokyo London temperature unit celsius get_weather search query "
    "function name arguments description type string object properties required "
    "hello world answer question think reason tool call result true false null"
)


def _corpus() -> list[str]:
    """Fixed training text: the template, JSON and prose, so common pieces merge."""
    words = _PROSE.split()
    lines = [TEMPLATE.read_text()]
    for i, word in enumerate(words):
        lines.append(f"{word} {words[(i * 7) % len(words)]} {words[(i * 13) % len(words)]}.")
        lines.append(json.dumps({word: i, "list": [i, i + 1], "text": f"{word} {i}"}))
    lines.append("0123456789 +-*/=<>()[]{}:;,.!?'\"_ \n\t")
    return lines


def _tokenizer():  # type: ignore[no-untyped-def]
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=BPE_VOCAB,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_corpus(), trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in SPECIAL_TOKENS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in NON_SPECIAL_TOKENS])
    return tok


def _tokenizer_config(tok) -> dict:  # type: ignore[no-untyped-def,type-arg]
    decoder = {}
    for token in (*SPECIAL_TOKENS, *NON_SPECIAL_TOKENS):
        decoder[str(tok.token_to_id(token))] = {
            "content": token,
            "lstrip": False,
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": token in SPECIAL_TOKENS,
        }
    return {
        "added_tokens_decoder": decoder,
        "additional_special_tokens": [t for t in SPECIAL_TOKENS if t != "<|endoftext|>"],
        "clean_up_tokenization_spaces": False,
        "do_lower_case": False,
        "eos_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
        "model_max_length": MODEL["max_position_embeddings"],
        "padding_side": "left",
        "remove_space": False,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }


def build(out: Path) -> Path:
    """Writes the model folder into ``out`` (needs torch, transformers, tokenizers)."""
    import torch
    from transformers import Glm4MoeConfig, Glm4MoeForCausalLM

    out.mkdir(parents=True, exist_ok=True)
    tok = _tokenizer()
    tok.save(str(out / "tokenizer.json"))
    (out / "tokenizer_config.json").write_text(json.dumps(_tokenizer_config(tok), indent=2))
    shutil.copyfile(TEMPLATE, out / "chat_template.jinja")
    eos = [tok.token_to_id(t) for t in EOS_TOKENS]

    torch.manual_seed(0)
    config = Glm4MoeConfig(
        vocab_size=tok.get_vocab_size(with_added_tokens=True),
        pad_token_id=eos[0],
        eos_token_id=eos,
        tie_word_embeddings=False,
        **MODEL,
    )
    model = Glm4MoeForCausalLM(config).to(torch.float32)
    model.save_pretrained(out)
    # save_pretrained writes one from the config; GLM's lists all three end tokens.
    generation = {"_from_model_config": False, "eos_token_id": eos, "pad_token_id": eos[0]}
    (out / "generation_config.json").write_text(json.dumps(generation, indent=2))
    return out


def _key() -> str:
    digest = hashlib.sha256(Path(__file__).read_bytes() + TEMPLATE.read_bytes())
    return digest.hexdigest()[:16]


def _builder_python() -> str:
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        # the vLLM virtualenv, installed (or skipped) as the workers' rules say
        from tests.support.workers import vllm_venv

        return str(vllm_venv() / "bin" / "python")
    return sys.executable


def tiny_glm_moe_dir(cache: Path | None = None) -> Path:
    """The tiny model's folder, built on first use (about half a minute) and then reused."""
    base = cache or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "glmserve"
    path = base / f"tiny-glm-moe-{_key()}"
    if (path / "config.json").is_file():
        return path
    tmp = path.with_name(f"{path.name}.tmp.{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    subprocess.run([_builder_python(), __file__, str(tmp)], check=True)
    shutil.rmtree(path, ignore_errors=True)
    tmp.rename(path)
    return path


if __name__ == "__main__":
    build(Path(sys.argv[1]))
