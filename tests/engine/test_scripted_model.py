"""The scripted GLM model (tests/support/scripted_glm.py) on the real engine: greedy
decoding writes the script the prompt selects, exactly, and stops at its end token."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmserve.chat.template import ChatTemplate
from glmserve.engine.llama.engine import LlamaEngine
from glmserve.engine.types import GenerationRequest, SamplingParams, Usage
from tests.support.bpe import vocabulary
from tests.support.scripted_glm import (
    GLM47_TEMPLATE,
    GLM_SPECIALS,
    Script,
    ScriptedGlm,
    build_scripted_glm,
)

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _docs(size: int) -> str:
    """English prose (with some code and JSON) that a tokenizer was not trained on."""
    text = "\n\n".join(p.read_text() for p in sorted(DOCS.glob("*.md")))
    return text.replace("<tool_response>", "").replace("LONGTHINK", "")[:size]


TOOL_CALL = (
    "The user wants the weather in Paris. I will call the tool.</think><tool_call>get_weather"
    '<arg_key>city</arg_key><arg_value>Paris, "Île-de-France"</arg_value>'
    "<arg_key>days</arg_key><arg_value>2</arg_value></tool_call><|observation|>"
)
ANSWER = "It is 21 degrees.</think>It is 21 °C in Paris.<|user|>"
LONG = (
    " ".join(
        f"Option {n} costs {n * 37 % 101} units, so I compare it with option {n + 1}, "
        f"which costs {(n + 1) * 37 % 101}; the cheaper one is {min(n, n + 1)}."
        for n in range(70)
    )
    + "</think>Option 0 is the cheapest.<|user|>"
)
SCRIPTS = [
    Script(TOOL_CALL),
    Script(ANSWER, when="<tool_response>"),
    Script(LONG, when="LONGTHINK"),
]


def _tool(name: str, description: str) -> dict:  # type: ignore[type-arg]
    parameters = {"type": "object", "properties": {"city": {"type": "string"}}}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


WEATHER = _tool("get_weather", "Current weather of a city")
CALL = {
    "role": "assistant",
    "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}],
}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> ScriptedGlm:
    return build_scripted_glm(tmp_path_factory.mktemp("scripted") / "glm.gguf", SCRIPTS)


@pytest.fixture(scope="module")
def engine(model: ScriptedGlm) -> Iterator[LlamaEngine]:
    eng = LlamaEngine(
        model.path, context_size=32768, threads=2, batch_size=512, max_running=2, queue_limit=8
    )
    yield eng
    eng.close()


def _render(engine: LlamaEngine, messages: list[dict], **flags: object) -> str:  # type: ignore[type-arg]
    assert engine.info.chat_template is not None
    return ChatTemplate(engine.info.chat_template).render(messages, **flags)  # type: ignore[arg-type]


def _generate(engine: LlamaEngine, prompt: str, max_tokens: int = 4000) -> tuple[str, str, Usage]:
    async def go() -> tuple[str, str, Usage]:
        request = GenerationRequest(engine.tokenize(prompt), max_tokens, SamplingParams(0.0))
        gen = engine.start(request)
        text = "".join([t.text async for t in gen])
        return text, str(gen.finish_reason), gen.usage

    return asyncio.run(go())


def _written(script: str) -> str:
    """What a script leaves in the completion: everything but its end token."""
    return script.rsplit("<|", 1)[0]


def test_the_default_script_is_written_exactly_with_its_repeated_tokens(
    engine: LlamaEngine, model: ScriptedGlm
) -> None:
    prompt = _render(engine, [{"role": "user", "content": "Weather in Paris?"}], tools=[WEATHER])
    text, reason, usage = _generate(engine, prompt)
    assert (text, reason) == (_written(TOOL_CALL), "stop")
    assert TOOL_CALL.count("<arg_key>") == 2
    # every piece is the token a prompt would have, so the count is the prompt's count
    assert usage.completion_tokens == model.completion_tokens[0] == len(engine.tokenize(TOOL_CALL))


def test_a_trigger_in_the_prompt_selects_its_script_thinking_on_or_off(
    engine: LlamaEngine, model: ScriptedGlm
) -> None:
    messages = [
        {"role": "user", "content": "Weather in Paris?"},
        CALL,
        {"role": "tool", "content": '{"temp": 21}'},
    ]
    for thinking in (True, False):
        prompt = _render(engine, messages, tools=[WEATHER], enable_thinking=thinking)
        assert prompt.endswith("<|assistant|><think>" if thinking else "<|assistant|></think>")
        text, reason, usage = _generate(engine, prompt)
        assert (text, reason) == (_written(ANSWER), "stop")
        assert usage.completion_tokens == model.completion_tokens[1]


def test_a_long_repetitive_script_is_written_exactly(
    engine: LlamaEngine, model: ScriptedGlm
) -> None:
    prompt = _render(engine, [{"role": "user", "content": "LONGTHINK about the options"}])
    text, reason, usage = _generate(engine, prompt)
    assert (text, reason) == (_written(LONG), "stop")
    assert usage.completion_tokens == model.completion_tokens[2]
    assert b"".join(model.pieces[2]).decode() == _written(LONG)
    # A prompt holding the text would take about 2000 tokens; the script takes fewer,
    # because a one-character piece used more than three times joins its neighbour.
    assert len(engine.tokenize(LONG)) > 2000 > model.completion_tokens[2] > 1000


def test_a_long_prompt_selects_by_a_trigger_anywhere_in_it(engine: LlamaEngine) -> None:
    prose = _docs(60000)
    tools = [WEATHER, *(_tool(f"tool_{i}", prose[i * 300 : i * 300 + 300]) for i in range(20))]
    messages = [{"role": "user", "content": prose}]
    prompt = _render(engine, messages, tools=tools)
    assert len(engine.tokenize(prompt)) > 18000
    text, _, usage = _generate(engine, prompt)
    assert text == _written(TOOL_CALL)
    early = [
        {"role": "user", "content": "Weather?"},
        CALL,
        {"role": "tool", "content": "{}"},
        {"role": "user", "content": prose},
    ]
    text, _, usage = _generate(engine, _render(engine, early, tools=tools))
    assert text == _written(ANSWER)
    assert usage.prompt_tokens > 18000


def test_prompts_keep_glm_special_tokens_whole_and_tokenize_at_a_realistic_rate(
    engine: LlamaEngine,
) -> None:
    history = [
        {"role": "user", "content": "Weather in Paris?"},
        {**CALL, "reasoning_content": "Call it."},
        {"role": "tool", "content": '{"temp": 21}'},
    ]
    prompt = _render(engine, history, tools=[WEATHER], clear_thinking=False)
    tokens = engine.tokenize(prompt)
    pieces = [engine._model.piece(t) for t in tokens]
    assert b"".join(pieces).decode() == prompt
    for special in GLM_SPECIALS:
        assert pieces.count(special.encode()) == prompt.count(special), special
    assert prompt.count("<arg_key>") and prompt.count("<|assistant|>") == 2

    text = _docs(15000) + json.dumps([WEATHER] * 40)[:5000]
    ratio = len(text) / len(engine.tokenize(text))
    print(f"{len(text)} characters of English and JSON: {ratio:.2f} characters per token")
    assert 2.8 < ratio < 5.0


def test_the_vocabulary_is_cached_and_the_build_is_deterministic(
    model: ScriptedGlm, tmp_path: Path
) -> None:
    cached = vocabulary().path
    before = cached.stat().st_mtime_ns
    again = build_scripted_glm(tmp_path / "again.gguf", SCRIPTS)
    assert cached.stat().st_mtime_ns == before
    assert again.path.read_bytes() == model.path.read_bytes()


def test_scripts_must_have_one_default_and_end_with_an_end_token(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="default"):
        build_scripted_glm(tmp_path / "x.gguf", [Script("a<|user|>", when="<think>")])
    with pytest.raises(ValueError, match="ends with"):
        build_scripted_glm(tmp_path / "x.gguf", [Script("no end token")])
    assert GLM47_TEMPLATE.exists()
