"""The engine with GLM's special tokens (the tiny GLM GGUF): special tokens reach the
parser as text, grammars constrain random weights. (A scripted output written exactly up
to the end-of-turn token: tests/engine/test_scripted_model.py.)"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from glmserve.chat import glm47
from glmserve.engine.llama.engine import LlamaEngine
from glmserve.engine.types import GenerationRequest, SamplingParams
from tests.e2e.tiny_glm import build
from tests.support.shared import glm_template

TEMPLATE = glm_template("glm-4.7")
PROMPT = "[gMASK]<sop><|user|>Weather?<|assistant|><think>"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaEngine]:
    gguf = build(tmp_path_factory.mktemp("tiny") / "glm.gguf", TEMPLATE.read_text())
    eng = LlamaEngine(
        gguf, context_size=512, threads=2, batch_size=512, max_running=4, queue_limit=16
    )
    yield eng
    eng.close()


def _generate(engine: LlamaEngine, sampling: SamplingParams, max_tokens: int = 40) -> tuple:  # type: ignore[type-arg]
    async def go() -> tuple:  # type: ignore[type-arg]
        gen = engine.start(GenerationRequest(engine.tokenize(PROMPT), max_tokens, sampling))
        text = "".join([t.text async for t in gen])
        return text, gen.finish_reason

    return asyncio.run(go())


def test_special_tokens_are_single_tokens_and_come_back_as_text(engine: LlamaEngine) -> None:
    for tag in ("<think>", "</think>", "<tool_call>", "<arg_key>", "</arg_value>"):
        (token,) = engine.tokenize(tag)
        assert engine._model.piece(token) == tag.encode()


def test_a_grammar_constrains_random_weights(engine: LlamaEngine) -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": "pick",
                "parameters": {
                    "type": "object",
                    "properties": {"n": {"type": "integer"}},
                    "required": ["n"],
                },
            },
        }
    ]
    grammar = glm47.call_grammar(tools, name="pick", prompt="</think>")
    text, reason = _generate(engine, SamplingParams(temperature=0.0, grammar=grammar), 200)
    assert reason == "stop"
    message = glm47.parse(text, tools, prompt="</think>")
    (call,) = message.tool_calls
    assert call.name == "pick" and isinstance(json.loads(call.arguments)["n"], int)
