"""The configured ``[http] max_json_depth`` is the one limit every surface measures JSON
nesting against: the body, a chat tool call's ``arguments`` string and an Anthropic
``tool_use`` input (which becomes such a string), over real HTTP on a real server whose
limit is above the built-in default, so a surface that used the default would show."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from glmserve.config import HttpSettings
from tests.conftest import Server

M = "gemma-3-270m"
LIMIT = HttpSettings.max_json_depth + 40
WITHIN = LIMIT - 8  # deeper than the default allows, with room for the body around it
BEYOND = LIMIT + 5


@pytest.fixture(scope="module")
def deep(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("json-depth")
    config = tmp / "glmserve.toml"
    config.write_text(
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n'
        f"[http]\nmax_json_depth = {LIMIT}\n\n"
        f'[[models]]\ncode = "{M}"\nmax_tokens = 4\ndefault_max_tokens = 1\ncontext_size = 1024\n'
    )
    server = Server(config, Path(tmp / "server.log"))
    yield server
    server.stop()


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth - 1):
        value = [value]
    return {"a": value}  # ``depth`` levels in all, the object included


def _chat_with_arguments(depth: int) -> dict[str, Any]:
    arguments = json.dumps(_nested(depth))
    return {
        "model": M,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "tool_calls": [{"function": {"name": "f", "arguments": arguments}}],
            },
        ],
    }


def _anthropic_with_input(depth: int) -> dict[str, Any]:
    return {
        "model": M,
        "max_tokens": 1,
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": _nested(depth)}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}],
            },
        ],
    }


def _post(server: Server, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(server.base + path, json=body, timeout=120)


@pytest.mark.parametrize("path", ["/api/paas/v4/chat/completions", "/api/paas/v4/tokenizer"])
def test_arguments_deeper_than_the_default_within_the_configured_limit(
    deep: Server, path: str
) -> None:
    response = _post(deep, path, _chat_with_arguments(WITHIN))
    assert response.status_code == 200, response.text


def test_arguments_beyond_the_configured_limit_are_refused(deep: Server) -> None:
    response = _post(deep, "/api/paas/v4/chat/completions", _chat_with_arguments(BEYOND))
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "1214" and "nested" in error["message"], error
    assert f"at most {LIMIT}" in error["message"], error


def test_an_async_task_takes_the_configured_limit(deep: Server) -> None:
    response = _post(deep, "/api/paas/v4/async/chat/completions", _chat_with_arguments(WITHIN))
    assert response.status_code == 200, response.text
    refused = _post(deep, "/api/paas/v4/async/chat/completions", _chat_with_arguments(BEYOND))
    assert refused.status_code == 400, refused.text


@pytest.mark.parametrize(
    "path", ["/api/anthropic/v1/messages", "/api/anthropic/v1/messages/count_tokens"]
)
def test_a_tool_use_input_deeper_than_the_default_on_anthropic(deep: Server, path: str) -> None:
    response = _post(deep, path, _anthropic_with_input(WITHIN))
    assert response.status_code == 200, response.text
