"""The official Z.AI Python SDK against the real server, unchanged."""

from __future__ import annotations

import pytest
from zai import ZaiClient
from zai.core import APIRequestFailedError

from tests.conftest import Server

MODEL = "gemma-3-270m"
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]
COUNT = [{"role": "user", "content": "Count from 1 to 300: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"}]


@pytest.fixture(scope="module")
def client(server: Server) -> ZaiClient:
    return ZaiClient(api_key="test-id.test-secret", base_url=server.zai_base)


def _usage_is_consistent(usage: object) -> None:
    u = usage  # the SDK's CompletionUsage
    assert u.total_tokens == u.prompt_tokens + u.completion_tokens  # type: ignore[attr-defined]
    assert u.prompt_tokens > 0  # type: ignore[attr-defined]
    assert u.prompt_tokens_details.cached_tokens >= 0  # type: ignore[attr-defined]


def test_non_stream(client: ZaiClient) -> None:
    response = client.chat.completions.create(model=MODEL, messages=QUESTION, do_sample=False)
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "The capital of France is Paris."
    assert choice.finish_reason == "stop"
    assert response.model == MODEL
    assert response.id and response.request_id == response.id
    assert isinstance(response.created, int)
    _usage_is_consistent(response.usage)


def test_stream_gives_the_same_text_as_non_stream(client: ZaiClient) -> None:
    whole = client.chat.completions.create(
        model=MODEL, messages=COUNT, do_sample=False, max_tokens=24
    )
    chunks = list(
        client.chat.completions.create(
            model=MODEL, messages=COUNT, do_sample=False, max_tokens=24, stream=True
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == whole.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "length"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    # usage rides only on the chunk with finish_reason
    assert all(getattr(c, "usage", None) is None for c in chunks[:-1])
    assert last.usage.completion_tokens == 24
    assert last.usage.prompt_tokens == whole.usage.prompt_tokens
    _usage_is_consistent(last.usage)


def test_max_tokens_gives_length_and_exact_completion_tokens(client: ZaiClient) -> None:
    response = client.chat.completions.create(
        model=MODEL, messages=COUNT, do_sample=False, max_tokens=7
    )
    assert response.choices[0].finish_reason == "length"
    assert response.usage.completion_tokens == 7


def test_stop_string_ends_output_and_is_not_included(client: ZaiClient) -> None:
    full = client.chat.completions.create(
        model=MODEL, messages=COUNT, do_sample=False, max_tokens=30
    )
    text = full.choices[0].message.content
    stop = text[len(text) // 2 : len(text) // 2 + 3]
    cut = client.chat.completions.create(
        model=MODEL, messages=COUNT, do_sample=False, max_tokens=30, stop=[stop]
    )
    assert cut.choices[0].finish_reason == "stop"
    assert cut.choices[0].message.content == text[: text.index(stop)].strip()
    assert stop not in cut.choices[0].message.content
    assert cut.usage.completion_tokens < 30


def test_do_sample_false_gives_the_same_text_twice(client: ZaiClient) -> None:
    messages = [{"role": "user", "content": "Write a short poem about the sea."}]
    first = client.chat.completions.create(
        model=MODEL, messages=messages, do_sample=False, max_tokens=40
    )
    second = client.chat.completions.create(
        model=MODEL, messages=messages, do_sample=False, max_tokens=40
    )
    assert first.choices[0].message.content == second.choices[0].message.content


def test_sdk_temperature_zero_means_greedy(client: ZaiClient) -> None:
    # The SDK turns temperature=0 into temperature=0.01 with do_sample=false.
    a = client.chat.completions.create(model=MODEL, messages=COUNT, temperature=0, max_tokens=10)
    b = client.chat.completions.create(model=MODEL, messages=COUNT, do_sample=False, max_tokens=10)
    assert a.choices[0].message.content == b.choices[0].message.content


def test_same_seed_same_sample(client: ZaiClient) -> None:
    kw = {"model": MODEL, "messages": QUESTION, "temperature": 0.9, "seed": 42, "max_tokens": 20}
    first = client.chat.completions.create(**kw)
    assert (
        first.choices[0].message.content
        == client.chat.completions.create(**kw).choices[0].message.content
    )


@pytest.mark.parametrize(
    ("sent", "echoed"),
    [(12345, "12345"), (1732240000.25, "1732240000.25"), ("my-req-1", "my-req-1")],
)
def test_request_id_comes_back_as_given(client: ZaiClient, sent: object, echoed: str) -> None:
    response = client.chat.completions.create(
        model=MODEL,
        messages=QUESTION,
        request_id=sent,
        max_tokens=2,  # type: ignore[arg-type]
    )
    assert response.request_id == echoed


def test_history_with_system_and_assistant_turns(client: ZaiClient) -> None:
    messages = [
        {"role": "system", "content": "You answer with one word."},
        {"role": "user", "content": "What is the capital of France?"},
        {"role": "assistant", "content": "Paris."},
        {"role": "user", "content": "And of Italy?"},
    ]
    response = client.chat.completions.create(
        model=MODEL, messages=messages, do_sample=False, max_tokens=20
    )
    assert response.choices[0].finish_reason in ("stop", "length")
    assert response.usage.prompt_tokens > 20


def test_errors_raise_the_sdk_exception_with_the_business_code(client: ZaiClient) -> None:
    with pytest.raises(APIRequestFailedError) as info:
        client.chat.completions.create(model="no-such-model", messages=QUESTION)
    assert info.value.status_code == 400
    assert '"1211"' in str(info.value)


def test_catalog_defaults_apply_to_a_glm_code(client: ZaiClient) -> None:
    # glm-4.7 is served from the same small GGUF with a 2048-token context: Z.AI's maximum
    # max_tokens (131072) is accepted and cut to the context; one more is refused.
    ok = client.chat.completions.create(model="glm-4.7", messages=QUESTION, max_tokens=131072)
    assert ok.model == "glm-4.7"
    with pytest.raises(APIRequestFailedError) as info:
        client.chat.completions.create(model="glm-4.7", messages=QUESTION, max_tokens=131073)
    assert '"1214"' in str(info.value)


def test_jwt_mode_client_is_accepted(server: Server) -> None:
    # zai-sdk signs an HS256 JWT (times in milliseconds) when the token cache is enabled.
    jwt_client = ZaiClient(
        api_key="test-id.0123456789abcdef0123456789abcdef",
        base_url=server.zai_base,
        disable_token_cache=False,
    )
    response = jwt_client.chat.completions.create(model=MODEL, messages=QUESTION, max_tokens=2)
    assert response.usage.completion_tokens <= 2
