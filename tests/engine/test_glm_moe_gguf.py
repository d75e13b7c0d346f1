"""The GLM-shaped MoE benchmark model (benchmarks/glm_moe_gguf.py), built in a tiny shape,
loads and decodes in the embedded engine: llama.cpp's glm4moe architecture, GLM's
vocabulary size and special tokens, the GLM-4.7 chat template."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchmarks import glm_moe_gguf

from glmserve.chat.template import ChatTemplate
from glmserve.engine.llama.engine import LlamaEngine
from glmserve.engine.llama.native import NativeModel
from glmserve.engine.types import GenerationRequest, SamplingParams
from tests.support.scripted_glm import GLM47_TEMPLATE

TINY = glm_moe_gguf.Shape(
    embed=64, layers=2, dense_ff=128, heads=2, kv_heads=1, head_dim=32,
    experts=4, experts_used=2, expert_ff=64, context=1024,
)  # fmt: skip


def test_the_tiny_glm_moe_loads_and_decodes(tmp_path: Path) -> None:
    path = glm_moe_gguf.build(tmp_path / "glm-moe.gguf", TINY)
    vocab = NativeModel(path, vocab_only=True)
    try:
        assert vocab.n_vocab == glm_moe_gguf.GLM_VOCAB
        assert vocab.token_text(glm_moe_gguf.GLM_FIRST_SPECIAL) == "<|endoftext|>"
        assert vocab.meta("general.architecture") == "glm4moe"
        assert vocab.meta("glm4moe.expert_count") == "4"
        # read from the metadata on a vocabulary-only load (the served context's cap)
        assert vocab.trained_context == TINY.context
    finally:
        vocab.close()
    engine = LlamaEngine(
        path, context_size=512, threads=2, batch_size=64, max_running=2, queue_limit=4
    )
    try:
        assert engine.info.chat_template == GLM47_TEMPLATE.read_text()
        prompt = ChatTemplate(engine.info.chat_template).render(
            [{"role": "user", "content": "Hello"}]
        )
        tokens = engine.tokenize(prompt)
        assert tokens[:2] == engine.tokenize("[gMASK]<sop>")  # GLM's prefix, two tokens

        async def go() -> tuple[int, str | None]:
            request = GenerationRequest(tokens, 12, SamplingParams(0.0), ignore_eos=True)
            gen = engine.start(request)
            async for _ in gen:
                pass
            return gen.usage.completion_tokens, gen.finish_reason

        assert asyncio.run(go()) == (12, "length")  # random weights; ignore_eos runs to 12
    finally:
        engine.close()
