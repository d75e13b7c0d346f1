"""The content-filter hook (serving/run/content_filter.py) on the real pipeline and engine:
the scripted GLM model (tests/support/scripted_glm.py) in its worker process. glmserve
ships no filter; the one here stands for a deployment's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmserve.config import HttpSettings, load_settings
from glmserve.errors import SensitiveContent
from glmserve.protocol.chat import parse_chat_request
from glmserve.serving import CompletionService, completion_result
from glmserve.serving.models.registry import ModelRegistry, load_models
from tests.support.scripted_glm import Script, build_scripted_glm

DEPTH = HttpSettings.max_json_depth  # the default [http] nesting limit

SCRIPT = "I think about the forbidden word.</think>Here it is: forbidden. Done.<|user|>"


class WordFilter:
    """Blocks prompts and outputs that contain a word."""

    def __init__(self, word: str) -> None:
        self.word = word

    def blocks_prompt(self, prompt: str) -> bool:
        return "password" in prompt

    def blocks_output(self, text: str) -> bool:
        return self.word in text


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelRegistry]:
    tmp = tmp_path_factory.mktemp("filter")
    gguf = build_scripted_glm(tmp / "scripted.gguf", [Script(SCRIPT)]).path
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\ncontext_size = 512\n'
    )
    registry = load_models(load_settings(str(config)), progress=False)
    yield registry
    registry.close()


def _request(content: str, *, stream: bool):  # type: ignore[no-untyped-def]
    body = {"model": "glm-4.7", "messages": [{"role": "user", "content": content}]}
    return parse_chat_request(json.dumps({**body, "stream": stream}).encode(), max_depth=DEPTH)


def test_a_blocked_output_ends_a_stream_with_finish_reason_sensitive(
    models: ModelRegistry,
) -> None:
    service = CompletionService(models, content_filter=WordFilter("Here it is: forbidden"))

    async def run() -> tuple[list[str], str]:
        completion = service.run(service.prepare(_request("Say it", stream=True)))
        texts = [d.text async for d in completion.deltas()]
        await completion.wait_finished()
        return texts, completion.finish_reason

    texts, reason = asyncio.run(run())
    assert reason == "sensitive"
    shown = "".join(texts)
    assert "I think about the forbidden word." in shown  # the reasoning passed the filter
    assert "Here it is: forbidden" not in shown and "Done" not in shown


def test_a_blocked_output_without_a_stream_is_1301(models: ModelRegistry) -> None:
    service = CompletionService(models, content_filter=WordFilter("forbidden. Done"))

    async def run() -> None:
        completion = service.run(service.prepare(_request("Say it", stream=False)))
        await completion_result(completion)

    with pytest.raises(SensitiveContent) as caught:
        asyncio.run(run())
    assert (caught.value.code, caught.value.status) == ("1301", 400)


def test_a_blocked_prompt_is_1301_before_any_work(models: ModelRegistry) -> None:
    service = CompletionService(models, content_filter=WordFilter("nothing"))
    with pytest.raises(SensitiveContent):
        service.prepare(_request("my password is hunter2", stream=False))
    assert service.prepare(_request("hello", stream=False)).model.code == "glm-4.7"


def test_without_a_filter_nothing_is_blocked(models: ModelRegistry, tmp_path: Path) -> None:
    service = CompletionService(models)

    async def run() -> dict:  # type: ignore[type-arg]
        completion = service.run(service.prepare(_request("my password", stream=False)))
        return await completion_result(completion)

    body = asyncio.run(run())
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["choices"][0]["message"]["content"] == "Here it is: forbidden. Done."
