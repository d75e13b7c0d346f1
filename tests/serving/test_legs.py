"""A generation in legs (serving/run/legs.py) on a scripted engine: one token stream,
one finish reason and one usage however many legs it took."""

from __future__ import annotations

import asyncio

from glmserve.engine.types import GenerationRequest, SamplingParams
from glmserve.serving.run.legs import Legs
from tests.support.scripted_engine import ScriptedEngine, text_of, tokens_of

PROMPT = tokens_of("prompt")


def _answer(request: GenerationRequest) -> list[int]:
    # the first leg thinks; a leg whose prompt ends with the inserted "|" answers
    if text_of(list(request.prompt_tokens)).endswith("|"):
        return tokens_of("answer")
    return tokens_of("thinking on and on")


def _request(max_tokens: int = 100) -> GenerationRequest:
    return GenerationRequest(PROMPT, max_tokens, SamplingParams())


async def _read(legs: Legs, switch_after: int | None = None, inserted: str = "|") -> str:
    out: list[int] = []
    async for token in legs.tokens():
        out.append(token.token_id)
        if switch_after is not None and len(out) == switch_after:
            await legs.switch(tokens_of(inserted), "root ::= [a-z]+")
    return text_of(out)


def test_one_leg_is_the_engine_s_generation() -> None:
    engine = ScriptedEngine(_answer)
    legs = Legs(engine, _request())
    text = asyncio.run(_read(legs))
    assert text == "thinking on and on" and legs.finish_reason == "stop"
    assert legs.usage.prompt_tokens == len(PROMPT)
    assert legs.usage.completion_tokens == len(text) and len(engine.requests) == 1


def test_a_switch_goes_on_from_the_output_and_the_inserted_tokens() -> None:
    engine = ScriptedEngine(_answer)
    legs = Legs(engine, _request())
    text = asyncio.run(_read(legs, switch_after=8))
    assert text == "thinkinganswer"  # the inserted "|" is output, not a generated token
    first, second = engine.requests
    assert text_of(list(second.prompt_tokens)) == "promptthinking|"
    assert second.max_tokens == 100 - 9 and second.sampling.grammar == "root ::= [a-z]+"
    assert first.sampling.grammar is None
    # one usage: the original prompt, and every output token (generated or inserted)
    assert legs.usage.prompt_tokens == len(PROMPT)
    assert legs.usage.completion_tokens == 8 + 1 + len("answer")
    assert legs.finish_reason == "stop" and legs.output_tokens == 15


def test_a_switch_without_room_changes_nothing() -> None:
    engine = ScriptedEngine(_answer)
    legs = Legs(engine, _request(max_tokens=9))
    text = asyncio.run(_read(legs, switch_after=8, inserted="||"))
    assert text == "thinking " and legs.finish_reason == "length"
    assert len(engine.requests) == 1


def test_a_leg_that_cannot_start_ends_the_generation_as_an_error() -> None:
    engine = ScriptedEngine(_answer)
    legs = Legs(engine, _request())

    async def run() -> str:
        out: list[int] = []
        async for token in legs.tokens():
            out.append(token.token_id)
            if len(out) == 3:
                engine.busy = True
                assert await legs.switch(tokens_of("|"), None)
        return text_of(out)

    assert asyncio.run(run()) == "thi"
    assert legs.finish_reason == "error" and legs.stopped
    assert legs.error is not None and "queue was full" in legs.error


def test_stop_ends_it_as_stopped_on_purpose() -> None:
    engine = ScriptedEngine(_answer)
    legs = Legs(engine, _request())

    async def run() -> str:
        out: list[int] = []
        async for token in legs.tokens():
            out.append(token.token_id)
            if len(out) == 5:
                legs.stop()
        await legs.wait_finished()
        return text_of(out)

    assert asyncio.run(run()) == "think"
    assert legs.finish_reason == "stop" and legs.usage.completion_tokens == 5


def test_inserted_tokens_open_the_first_leg() -> None:
    engine = ScriptedEngine(_answer)
    legs = Legs(engine, _request(), inserted=tokens_of("|"), grammar="g")
    assert asyncio.run(_read(legs)) == "answer"
    [first] = engine.requests
    assert text_of(list(first.prompt_tokens)) == "prompt|" and first.max_tokens == 99
    assert first.sampling.grammar == "g"
    assert legs.usage.completion_tokens == 1 + len("answer")
