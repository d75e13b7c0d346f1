"""The openai SDK with Z.AI's base URL, unchanged."""

from __future__ import annotations

import pytest
from openai import BadRequestError, OpenAI

from tests.conftest import Server

MODEL = "gemma-3-270m"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture(scope="module")
def client(server: Server) -> OpenAI:
    return OpenAI(api_key="any-key", base_url=server.zai_base, max_retries=0)


def test_non_stream(client: OpenAI) -> None:
    response = client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=0)  # type: ignore[arg-type]
    assert response.choices[0].message.content == "The capital of France is Paris."
    assert response.object == "chat.completion"
    assert response.usage is not None
    assert response.usage.prompt_tokens_details is not None
    assert response.usage.prompt_tokens_details.cached_tokens is not None


def test_stream(client: OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        temperature=0,
        stream=True,  # type: ignore[arg-type]
    )
    chunks = list(stream)
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks)
        == "The capital of France is Paris."
    )
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0


def test_models_list(client: OpenAI) -> None:
    ids = {m.id for m in client.models.list()}
    assert {"gemma-3-270m", "glm-4.7"} <= ids


def test_max_completion_tokens(client: OpenAI) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=[
            {"role": "user", "content": "Count from 1 to 300: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"}
        ],
        temperature=0,
        max_completion_tokens=5,
    )
    assert response.choices[0].finish_reason == "length"
    assert response.usage is not None and response.usage.completion_tokens == 5


def test_error_is_openai_readable(client: OpenAI) -> None:
    with pytest.raises(BadRequestError) as info:
        client.chat.completions.create(model=MODEL, messages=QUESTION, temperature=1.7)
    assert info.value.status_code == 400
    body = info.value.body
    assert isinstance(body, dict) and body.get("code") == "1214"
