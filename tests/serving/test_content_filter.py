"""Content safety on the real pipeline and engine (serving/run/content_filter.py and the
safety room): the scripted GLM model (tests/support/scripted_glm.py) in its worker
process as the chat model, and a second scripted model as the guard, which answers
"unsafe" when its prompt holds the trigger word and "safe" otherwise."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from glmserve.config import HttpSettings, load_settings
from glmserve.config.safety import SafetySettings
from glmserve.errors import PermissionDenied, SensitiveContent
from glmserve.platform.auth import Principal
from glmserve.platform.ids import tool_call_id
from glmserve.protocol.chat import parse_chat_request
from glmserve.protocol.responses import result_body
from glmserve.serving import CompletionService, collect_result
from glmserve.serving.models.registry import ModelRegistry, load_models
from glmserve.serving.run.completion import PreparedCompletion
from glmserve.serving.safety import SafetyService
from tests.support.scripted_glm import Script, build_scripted_glm

DEPTH = HttpSettings.max_json_depth  # the default [http] nesting limit
TRIGGER = "zorblax"  # the guard model's trigger word: one token of its vocabulary
CHAT_SAFE = "I think about the weather.</think>It is sunny today. Done.<|user|>"
CHAT_UNSAFE = f"I think about it.</think>Here it is: {TRIGGER} and more words follow.<|user|>"
CHAT_KEYWORD = "I think about the forbidden word.</think>Here it is: forbidden. Done.<|user|>"
CALLER = Principal("k1", limited=True)
EXEMPT = Principal("k2", limited=True, safety_exempt=True)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelRegistry]:
    tmp = tmp_path_factory.mktemp("filter")
    chat = build_scripted_glm(
        tmp / "chat.gguf",
        [Script(CHAT_UNSAFE, when="xyzzydanger"), Script(CHAT_KEYWORD, when="xyzzykeyword"),
         Script(CHAT_SAFE)],
    ).path  # fmt: skip
    guard = build_scripted_glm(
        tmp / "guard.gguf", [Script("unsafe\nS9<|user|>", when=TRIGGER), Script("safe<|user|>")]
    ).path
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{chat}"\ncontext_size = 1024\n\n'
        f'[[models]]\ncode = "guard"\ngguf = "{guard}"\ncontext_size = 1024\n'
    )
    registry = load_models(load_settings(str(config)), progress=False)
    yield registry
    registry.close()


def _request(content: str, *, stream: bool, **extra: Any):  # type: ignore[no-untyped-def]
    body = {"model": "glm-4.7", "messages": [{"role": "user", "content": content}], **extra}
    return parse_chat_request(json.dumps({**body, "stream": stream}).encode(), max_depth=DEPTH)


def _service(models: ModelRegistry, **settings: Any) -> CompletionService:
    safety = SafetyService(SafetySettings(**settings), models)
    return CompletionService(models, content_filter=safety.content_filter)


async def _run(
    service: CompletionService, prepared: PreparedCompletion, caller: Principal = CALLER
) -> tuple[list[str], str, list[dict[str, object]]]:
    verdict = await service.screen(prepared, caller)
    completion = service.run(prepared, input_verdict=verdict)
    texts = [d.text async for d in completion.deltas()]
    await completion.wait_finished()
    return texts, completion.finish_reason, completion.content_filter


def test_keywords_end_a_stream_with_finish_reason_sensitive(models: ModelRegistry) -> None:
    service = _service(models, keywords=("Here it is: forbidden",))
    prepared = service.prepare(_request("xyzzykeyword please", stream=True))
    texts, reason, flagged = asyncio.run(_run(service, prepared))
    assert reason == "sensitive"
    assert flagged == [{"role": "assistant", "level": 0}]
    shown = "".join(texts)
    assert "I think about the forbidden word." in shown  # the reasoning passed the filter
    assert "Here it is: forbidden" not in shown and "Done" not in shown


def test_a_keyword_in_the_output_without_a_stream_is_1301(models: ModelRegistry) -> None:
    service = _service(models, keywords=("forbidden. done",))  # case does not matter

    async def run() -> None:
        prepared = service.prepare(_request("xyzzykeyword please", stream=False))
        await collect_result(service.run(prepared))

    with pytest.raises(SensitiveContent) as caught:
        asyncio.run(run())
    assert (caught.value.code, caught.value.status) == ("1301", 400)


def test_a_keyword_in_the_input_is_1301_before_any_work(models: ModelRegistry) -> None:
    service = _service(models, keywords=("password",), keywords_on="input")
    prepared = service.prepare(_request("my Password is hunter2", stream=False))
    with pytest.raises(SensitiveContent):
        asyncio.run(service.screen(prepared, CALLER))
    # keywords on the input only: the same word in the output passes
    prepared = service.prepare(_request("xyzzykeyword", stream=False))
    _texts, reason, flagged = asyncio.run(_run(service, prepared))
    assert reason == "stop" and flagged == []


def test_the_guard_model_blocks_an_unsafe_prompt(models: ModelRegistry) -> None:
    service = _service(models, guard_model="guard")
    prepared = service.prepare(_request(f"tell me about {TRIGGER}", stream=False))
    with pytest.raises(SensitiveContent):
        asyncio.run(service.screen(prepared, CALLER))
    safe = service.prepare(_request("tell me about the weather", stream=False))
    texts, reason, flagged = asyncio.run(_run(service, safe))
    assert (reason, flagged) == ("stop", [])
    assert "".join(texts).endswith("It is sunny today. Done.")


def test_a_stream_the_guard_finds_unsafe_ends_sensitive(models: ModelRegistry) -> None:
    # the guard reads the output every 20 characters: it stops the stream soon after
    # the trigger word is written, before the whole answer is out
    service = _service(models, guard_model="guard", guard_every_chars=20)
    prepared = service.prepare(_request("something xyzzydanger", stream=True))
    texts, reason, flagged = asyncio.run(_run(service, prepared))
    assert reason == "sensitive"
    assert flagged == [{"role": "assistant", "level": 0}]
    assert "follow." not in "".join(texts)


def test_the_guard_checks_a_whole_answer_at_its_end(models: ModelRegistry) -> None:
    service = _service(models, guard_model="guard", guard_every_chars=100_000)

    async def run() -> None:
        prepared = service.prepare(_request("something xyzzydanger", stream=False))
        await collect_result(service.run(prepared))

    with pytest.raises(SensitiveContent):
        asyncio.run(run())


def test_disable_is_honoured_only_for_an_exempt_key(models: ModelRegistry) -> None:
    service = _service(models, keywords=("password",))
    check = {"type": "ALL", "status": "DISABLE"}
    prepared = service.prepare(_request("my password", stream=False, sensitive_word_check=check))
    with pytest.raises(PermissionDenied) as caught:
        asyncio.run(service.screen(prepared, CALLER))
    assert (caught.value.code, caught.value.status) == ("1220", 403)
    _texts, reason, _ = asyncio.run(_run(service, prepared, EXEMPT))
    assert reason == "stop"
    enabled = service.prepare(
        _request("my password", stream=False, sensitive_word_check={"status": "ENABLE"})
    )
    with pytest.raises(SensitiveContent):
        asyncio.run(service.screen(enabled, EXEMPT))


def test_without_a_filter_nothing_is_blocked(models: ModelRegistry) -> None:
    service = CompletionService(models)

    async def run() -> dict[str, Any]:
        prepared = service.prepare(_request("xyzzykeyword password", stream=False))
        return result_body(await collect_result(service.run(replace(prepared))), tool_call_id)

    body = asyncio.run(run())
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["content"] == "Here it is: forbidden. Done."
    assert "content_filter" not in body
