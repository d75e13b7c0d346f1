"""The steerer (serving/run/steering.py) over a scripted engine and the real GLM-4.7
output parser: a thinking budget closes the block in a second leg, a single call ends
the output after the first call, and reasoning tokens are counted."""

from __future__ import annotations

import asyncio

from glmserve.chat.families import family_for
from glmserve.chat.output import Delta
from glmserve.engine.types import GenerationRequest, SamplingParams
from glmserve.serving.run.legs import Legs
from glmserve.serving.run.steering import Steerer, Steering, ThinkingCut
from tests.support.scripted_engine import ScriptedEngine, text_of, tokens_of

PROMPT = "<|user|>hi<|assistant|><think>"
TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
CLOSE = " ok"


def _script(request: GenerationRequest) -> list[int]:
    if text_of(list(request.prompt_tokens)).endswith("</think>"):
        return tokens_of("the answer")
    return tokens_of("abcdefgh</think>too late")


def _calls(request: GenerationRequest) -> list[int]:
    return tokens_of("</think><tool_call>f</tool_call><tool_call>f</tool_call>")


async def _run(engine: ScriptedEngine, steering: Steering) -> tuple[list[Delta], Steerer, Legs]:
    parser = family_for("glm47").parser(TOOLS, prompt=PROMPT)
    legs = Legs(engine, GenerationRequest(tokens_of(PROMPT), 200, SamplingParams()))
    steerer = Steerer(steering, parser, legs)  # type: ignore[arg-type]
    deltas = steerer.before()
    async for token in legs.tokens():
        deltas += steerer.feed(token.text, parser.feed)
        deltas += await steerer.after_token()
    if legs.stopped:  # stopped on purpose: its end is a token away
        await legs.wait_finished()
    return deltas + parser.finish(), steerer, legs


def _text(deltas: list[Delta], kind: str) -> str:
    return "".join(d.text for d in deltas if d.kind == kind)


def test_a_thinking_budget_closes_the_block_in_a_second_leg() -> None:
    cut = ThinkingCut(at=4, closing=tuple(tokens_of(CLOSE)), end=tuple(tokens_of("</think>")),
                      text=f"{CLOSE}</think>")  # fmt: skip
    engine = ScriptedEngine(_script)
    deltas, steerer, legs = asyncio.run(_run(engine, Steering(cut=cut)))
    assert _text(deltas, "reasoning") == "abcd" + CLOSE
    assert _text(deltas, "content") == "the answer"
    assert steerer.reasoning_tokens == 4 + len(CLOSE)
    _, second = engine.requests
    assert text_of(list(second.prompt_tokens)) == PROMPT + "abcd" + CLOSE + "</think>"
    assert legs.finish_reason == "stop"
    # the reasoning, the inserted closing and its end tag (one token), the answer
    assert legs.usage.completion_tokens == 4 + len(CLOSE) + 1 + len("the answer")


def test_without_steering_the_model_writes_what_it_writes() -> None:
    engine = ScriptedEngine(_script)
    deltas, steerer, _ = asyncio.run(_run(engine, Steering()))
    assert _text(deltas, "reasoning") == "abcdefgh" and _text(deltas, "content") == "too late"
    assert steerer.reasoning_tokens == len("abcdefgh") and len(engine.requests) == 1


def test_a_single_call_ends_the_output_after_the_first_call() -> None:
    engine = ScriptedEngine(_calls)
    deltas, _, legs = asyncio.run(_run(engine, Steering(single_call=True)))
    assert [d.name for d in deltas if d.kind == "tool_call" and d.name] == ["f"]
    assert legs.stopped and legs.finish_reason == "stop"
    assert legs.usage.completion_tokens < len(_calls(engine.requests[0]))
