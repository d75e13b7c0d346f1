"""Content safety through HTTP on a real server with API keys: a scripted chat model
and a scripted guard model (tests/support/scripted_glm.py), the keyword list, the
official zai-sdk and anthropic clients, ``/moderations`` billed per call, and
``sensitive_word_check`` DISABLE for an exempt key only."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import pytest
from zai import ZaiClient
from zai.core import APIRequestFailedError

from tests.platform.gateway import Gateway, auth, write_config
from tests.support.scripted_glm import Script, build_scripted_glm

TRIGGER = "zorblax"
UNSAFE_ANSWER = f"I think.</think>Here it is: {TRIGGER} and more words follow.<|user|>"
SAFE_ANSWER = "I think.</think>It is sunny today.<|user|>"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("safety")
    chat = build_scripted_glm(
        tmp / "chat.gguf", [Script(UNSAFE_ANSWER, when="xyzzydanger"), Script(SAFE_ANSWER)]
    ).path
    guard = build_scripted_glm(
        tmp / "guard.gguf", [Script("unsafe\nS9<|user|>", when=TRIGGER), Script("safe<|user|>")]
    ).path
    extra = (
        '[safety]\nkeywords = ["blocklisted phrase"]\nguard_model = "guard"\n'
        "guard_every_chars = 20\nmoderation_price = 0.002\n\n"
        f'[[models]]\ncode = "guard"\ngguf = "{guard}"\ncontext_size = 1024\n'
    )
    config = write_config(tmp / "glmserve.toml", chat, tmp / "data", extra=extra)
    server = Gateway(config, tmp / "server.log")
    yield server
    server.stop()


def _zai(gateway: Gateway, key: str) -> ZaiClient:
    return ZaiClient(api_key=key, base_url=gateway.zai_base)


def _chat(gateway: Gateway, key: str, body: dict[str, object]) -> httpx.Response:
    url = f"{gateway.zai_base}chat/completions"
    return httpx.post(url, json={"model": "glm-4.7", **body}, headers=auth(key), timeout=60)


def _ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


def test_a_blocked_prompt_is_1301_with_zai_sdk(gateway: Gateway) -> None:
    client = _zai(gateway, gateway.create_key())
    for text in (f"what is {TRIGGER}?", "say the Blocklisted Phrase"):
        with pytest.raises(APIRequestFailedError) as caught:
            client.chat.completions.create(model="glm-4.7", messages=_ask(text))
        assert caught.value.status_code == 400
        assert json.loads(caught.value.response.text)["error"]["code"] == "1301"
    answer = client.chat.completions.create(model="glm-4.7", messages=_ask("weather?"))
    assert answer.choices[0].message.content == "It is sunny today."
    assert answer.choices[0].finish_reason == "stop"


def test_a_stream_turning_unsafe_ends_sensitive_with_content_filter(gateway: Gateway) -> None:
    key = gateway.create_key()
    url = f"{gateway.zai_base}chat/completions"
    body = {"model": "glm-4.7", "messages": _ask("something xyzzydanger"), "stream": True}
    with httpx.stream("POST", url, json=body, headers=auth(key), timeout=60) as r:
        assert r.status_code == 200
        events = [line[6:] for line in r.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    last = json.loads(events[-2])
    assert last["choices"][0]["finish_reason"] == "sensitive"
    assert last["content_filter"] == [{"role": "assistant", "level": 0}]
    text = "".join(json.loads(e)["choices"][0]["delta"].get("content") or "" for e in events[:-1])
    assert "follow." not in text
    # the SDK reads the same stream and sees the finish reason
    chunks = list(
        _zai(gateway, key).chat.completions.create(
            model="glm-4.7", messages=_ask("something xyzzydanger"), stream=True
        )
    )
    assert chunks[-1].choices[0].finish_reason == "sensitive"


def test_anthropic_gets_refusal(gateway: Gateway) -> None:
    client = anthropic.Anthropic(
        api_key=gateway.create_key(), base_url=f"{gateway.base}/api/anthropic"
    )
    message = client.messages.create(
        model="glm-4.7", max_tokens=200, messages=[{"role": "user", "content": "xyzzydanger"}]
    )
    assert message.stop_reason == "refusal"
    with client.messages.stream(
        model="glm-4.7", max_tokens=200, messages=[{"role": "user", "content": "xyzzydanger"}]
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "refusal"


def test_disable_needs_an_exempt_key(gateway: Gateway) -> None:
    key = gateway.create_key()
    body = {
        "messages": _ask(f"what is {TRIGGER}?"),
        "sensitive_word_check": {"type": "ALL", "status": "DISABLE"},
    }
    refused = _chat(gateway, key, body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "1220"
    allowed = gateway.admin("POST", f"/keys/{key.split('.')[0]}/safety", json={"exempt": True})
    assert allowed.status_code == 200 and allowed.json()["safety_exempt"] is True
    answered = _chat(gateway, key, body)
    assert answered.status_code == 200, answered.text
    assert answered.json()["choices"][0]["finish_reason"] == "stop"
    bad = _chat(gateway, key, {**body, "sensitive_word_check": {"status": "OFF"}})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "1214"


def test_moderations_with_zai_sdk_billed_per_call(gateway: Gateway) -> None:
    key = gateway.create_key()
    client = _zai(gateway, key)
    result = client.moderations.create(
        model="moderation",
        input=["a sunny day", f"all about {TRIGGER}", "a blocklisted phrase here"],
    )
    extra = result.model_extra or {}
    levels = [r["risk_level"] for r in extra["result_list"]]
    assert levels == ["PASS", "REJECT", "REJECT"]
    assert extra["result_list"][1]["risk_type"] == ["S9"]
    assert extra["result_list"][2]["risk_type"] == ["blocklisted phrase"]
    assert extra["usage"] == {"moderation_text": {"call_count": 3}}
    single = client.moderations.create(model="moderation", input={"type": "text", "text": "hi"})
    assert (single.model_extra or {})["result_list"][0]["risk_level"] == "PASS"
    usage = gateway.usage(key, settled=2)
    assert usage["requests"] == 2 and usage["prompt_tokens"] == 4  # 4 calls
    assert usage["cost"] == pytest.approx(4 * 0.002)


def test_moderations_refuses_what_it_cannot_read(gateway: Gateway) -> None:
    key = gateway.create_key()
    url = f"{gateway.zai_base}moderations"
    image = {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}
    r = httpx.post(url, json={"model": "moderation", "input": image}, headers=auth(key))
    assert r.status_code == 400 and r.json()["error"]["code"] == "1214"
    assert "text only" in r.json()["error"]["message"]
    r = httpx.post(url, json={"model": "nope", "input": "x"}, headers=auth(key))
    assert r.status_code == 400 and r.json()["error"]["code"] == "1211"
    r = httpx.post(url, json={"model": "moderation"}, headers=auth(key))
    assert r.status_code == 400 and r.json()["error"]["code"] == "1213"


def test_moderations_is_offline_without_a_back_end(tmp_path: Path) -> None:
    gguf = build_scripted_glm(tmp_path / "chat.gguf", [Script(SAFE_ANSWER)]).path
    config = write_config(tmp_path / "glmserve.toml", gguf, tmp_path / "data")
    server = Gateway(config, tmp_path / "server.log")
    try:
        key = server.create_key()
        r = httpx.post(
            f"{server.zai_base}moderations",
            json={"model": "moderation", "input": "x"},
            headers=auth(key),
        )
        assert r.status_code == 404 and r.json()["error"]["code"] == "1221"
    finally:
        server.stop()
