"""``ignore_eos``, the vLLM / llama-server extension benchmark tools send: the model's
end-of-turn tokens and the format's stop strings no longer end the output, the request's
own ``stop`` still does (docs/api.md)."""

from __future__ import annotations

import httpx
import openai

from tests.e2e.conftest import GlmServer
from tests.support.scripted_glm import Script

SCRIPT = "Hello there, my friend.<|user|>"
MESSAGES = [{"role": "user", "content": "Hi"}]


def _zai(base: str, **fields: object) -> httpx.Response:
    body = {"model": "glm-4.7", "messages": MESSAGES, "max_tokens": 24, **fields}
    return httpx.post(f"{base}/chat/completions", json=body, timeout=120)


def test_ignore_eos_decodes_max_tokens_and_the_request_stop_still_ends_it(
    glm: GlmServer,
) -> None:
    server, _ = glm([Script(SCRIPT)])
    plain = _zai(server.zai_base).json()
    assert plain["choices"][0]["finish_reason"] == "stop"
    written = plain["usage"]["completion_tokens"]
    assert written < 24

    ignored = _zai(server.zai_base, ignore_eos=True).json()
    assert ignored["choices"][0]["finish_reason"] == "length"
    assert ignored["usage"]["completion_tokens"] == 24

    # The OpenAI path, as benchmark clients send it (an extra body field).
    client = openai.OpenAI(api_key="any", base_url=f"{server.base}/v1")
    streamed = client.chat.completions.create(
        model="glm-4.7",
        messages=MESSAGES,  # type: ignore[arg-type]
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"ignore_eos": True},
    )
    chunks = list(streamed)
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 30
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"

    stopped = _zai(server.zai_base, ignore_eos=True, stop=["friend"]).json()
    assert stopped["choices"][0]["finish_reason"] == "stop"
    assert stopped["usage"]["completion_tokens"] < written


def test_ignore_eos_must_be_a_boolean(glm: GlmServer) -> None:
    server, _ = glm([Script(SCRIPT)])
    bad = _zai(server.zai_base, ignore_eos="yes")
    assert bad.status_code == 400
    assert "ignore_eos" in bad.text
