"""Tiny diffusers pipelines with random weights, built from diffusers' and transformers'
own config classes and cached on disk: a CogView4-class text-to-image pipeline (GLM
text encoder, CogView4 transformer, KL VAE) and a CogVideoX-class text-to-video one
(T5 encoder, CogVideoX transformer, CogVideoX VAE). Each is a few megabytes and
generates on CPU in seconds; what they draw is noise, but noise that depends on the
prompt and the seed, exactly as the real pipelines' would.

The tokenizer is byte-level BPE with no merges (one token per UTF-8 byte), made in
place with ``tokenizers``, so nothing is downloaded or trained.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from tests.support.bpe import cache_dir

__all__ = ["tiny_cogview4", "tiny_cogvideox", "tiny_cogvideox_i2v"]

_VERSION = 1


def tiny_cogview4(directory: Path | None = None) -> Path:
    """The folder of a tiny CogView4Pipeline (built now if not cached)."""
    return _cached("cogview4", _build_cogview4, directory)


def tiny_cogvideox(directory: Path | None = None) -> Path:
    """The folder of a tiny CogVideoXPipeline (built now if not cached)."""
    return _cached("cogvideox", _build_cogvideox, directory)


def tiny_cogvideox_i2v(directory: Path | None = None) -> Path:
    """The folder of a tiny CogVideoXImageToVideoPipeline (built now if not cached)."""
    return _cached("cogvideox-i2v", _build_cogvideox_i2v, directory)


def _cached(name: str, build: object, directory: Path | None) -> Path:
    import diffusers
    import transformers

    key = hashlib.sha256(
        json.dumps([_VERSION, name, diffusers.__version__, transformers.__version__]).encode()
    ).hexdigest()[:12]
    target = (directory or cache_dir()) / f"tiny-{name}-{key}"
    if (target / "model_index.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".tiny-{name}-"))
    try:
        build(work)  # type: ignore[operator]
        os.replace(work, target)
    except OSError:
        if not (target / "model_index.json").is_file():
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target


def _tokenizer(pad: str, mark: str, template: str) -> object:
    """Byte-level BPE with no merges; ``mark`` is the special token every encoding
    carries (``template`` places it, as tokenizers' TemplateProcessing reads it), so
    even the empty negative prompt is one token long, as with the real tokenizers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from tests.support.bpe import byte_level

    vocab = {char: i for i, char in enumerate(byte_level().values())}
    specials = [pad, mark]
    for token in specials:
        vocab[token] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(specials)
    core.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(mark, vocab[mark])]
    )
    eos = mark if mark == "</s>" else None
    return PreTrainedTokenizerFast(
        tokenizer_object=core, pad_token=pad, eos_token=eos, padding_side="left"
    )


def _build_cogview4(folder: Path) -> None:
    import torch
    from diffusers import (
        AutoencoderKL,
        CogView4Pipeline,
        CogView4Transformer2DModel,
        FlowMatchEulerDiscreteScheduler,
    )
    from transformers import GlmConfig, GlmModel

    torch.manual_seed(0)
    tokenizer = _tokenizer("<|endoftext|>", "<sop>", "<sop> $A")
    text = GlmModel(
        GlmConfig(
            vocab_size=len(tokenizer),  # type: ignore[arg-type]
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            head_dim=8,
            pad_token_id=tokenizer.pad_token_id,  # type: ignore[attr-defined]
        )
    )
    transformer = CogView4Transformer2DModel(
        patch_size=2,
        in_channels=4,
        out_channels=4,
        num_layers=2,
        attention_head_dim=8,
        num_attention_heads=2,
        text_embed_dim=32,
        time_embed_dim=8,
        condition_dim=4,
        rope_axes_dim=(4, 4),
    )
    # Four blocks: the VAE scales by 8 as the real one does, so a 512x512 image is a
    # 64x64 latent (a 32x32 token grid in the transformer).
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=128,
    )
    scheduler = FlowMatchEulerDiscreteScheduler(
        base_shift=0.25,
        max_shift=0.75,
        base_image_seq_len=256,
        use_dynamic_shifting=True,
        time_shift_type="linear",
    )
    pipe = CogView4Pipeline(
        tokenizer=tokenizer,  # type: ignore[arg-type]
        text_encoder=text,
        vae=vae,
        transformer=transformer,
        scheduler=scheduler,
    )
    pipe.save_pretrained(folder)


def _build_cogvideox(folder: Path) -> None:
    _build_video(folder, image_to_video=False)


def _build_cogvideox_i2v(folder: Path) -> None:
    _build_video(folder, image_to_video=True)


def _build_video(folder: Path, *, image_to_video: bool) -> None:
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXPipeline,
        CogVideoXTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    tokenizer = _tokenizer("<pad>", "</s>", "$A </s>")
    text = T5EncoderModel(
        T5Config(
            vocab_size=len(tokenizer),  # type: ignore[arg-type]
            d_model=32,
            d_ff=64,
            d_kv=8,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=tokenizer.pad_token_id,  # type: ignore[attr-defined]
            eos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
        )
    )
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=8,
        # image-to-video: the image's latents ride beside the noise, channel-wise
        in_channels=8 if image_to_video else 4,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=32,
        num_layers=1,
        sample_width=8,
        sample_height=8,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=226,
    )
    vae = AutoencoderKLCogVideoX(
        in_channels=3,
        out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    )
    kind = CogVideoXImageToVideoPipeline if image_to_video else CogVideoXPipeline
    pipe = kind(
        tokenizer=tokenizer,  # type: ignore[arg-type]
        text_encoder=text,
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDDIMScheduler(),
    )
    pipe.save_pretrained(folder)
