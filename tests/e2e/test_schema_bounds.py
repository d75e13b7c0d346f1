"""One tenant's schema never stops the others (docs/limits.md, "Schemas and grammars").

A ``response_format`` or tool schema whose grammar would nest a million levels deep used
to crash the engine process for every tenant; a small self-referencing ``allOf`` used to
hold the event loop for minutes. Here a keyed gateway gets each such body from one key
(on the chat route, the async route and in a batch) while another key generates: the
engine's pid and ``/health`` stay as they were, and the other key's answer arrives.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.platform.batch_helpers import client, jsonl, wait_for
from tests.platform.gateway import Gateway, write_config

ASK = [{"role": "user", "content": "Answer in JSON."}]
LONG = {"type": "string", "maxLength": 1_000_000}
SELF_ALL_OF = {
    "type": "object",
    "$defs": {"a": {"allOf": [{"$ref": "#/$defs/a"}] * 8}},
    "properties": {"x": {"$ref": "#/$defs/a"}},
}


def _tool(parameters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "f", "parameters": parameters}}


def _answer(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "x", "schema": schema}}


HOSTILE: dict[str, dict[str, Any]] = {
    "maxLength": {"response_format": _answer(LONG)},
    "minLength": {"response_format": _answer({"type": "string", "minLength": 1_000_000})},
    "minItems": {
        "response_format": _answer({"type": "array", "items": {}, "minItems": 1_000_000})
    },
    "pattern": {"response_format": _answer({"type": "string", "pattern": "^a{2000000}$"})},
    "tool maxItems, required": {
        "tools": [_tool({"type": "object", "properties": {"x": {
            "type": "array", "items": {"type": "integer"}, "maxItems": 1_000_000}},
            "required": ["x"]})],
        "tool_choice": "required",
    },
    "tool minLength, named": {
        "tools": [_tool({"type": "object", "properties": {"x": {
            "type": "array", "items": {"type": "string", "minLength": 500_000}}}})],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    },
    "self allOf, required": {"tools": [_tool(SELF_ALL_OF)], "tool_choice": "required"},
    "self allOf, auto": {"tools": [_tool(SELF_ALL_OF)], "tool_choice": "auto"},
}  # fmt: skip
REFUSED = {
    "minLength": "response_format.json_schema.schema.minLength",
    "minItems": "response_format.json_schema.schema.minItems",
    "pattern": "response_format.json_schema.schema.pattern",
    "tool minLength, named": "tools[0].function.parameters.properties.x.items.minLength",
}
"""Bounds that cannot be lowered without refusing values the schema allows: 1214
naming the field."""


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, gemma_gguf: Path) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("bounds")
    extra = "[batches]\nidle_ms = 50"
    config = write_config(tmp / "glmserve.toml", gemma_gguf, tmp / "data", extra=extra)
    gw = Gateway(config, tmp / "server.log")
    yield gw
    gw.stop()


def _engine(gw: Gateway) -> dict[str, Any]:
    return next(m for m in gw.health()["models"] if m["model"] == "glm-4.7")


def _chat(gw: Gateway, key: str, body: dict[str, Any], path: str = "chat/completions") -> Any:
    payload = {"model": "glm-4.7", "messages": ASK, "max_tokens": 8, "do_sample": False, **body}
    headers = {"Authorization": f"Bearer {key}"}
    # a generous deadline: the gateway that used to hang never answered at all
    return httpx.post(f"{gw.zai_base}{path}", json=payload, headers=headers, timeout=300)


class _Other:
    """Another key generating, one request after the other, until stopped."""

    def __init__(self, gw: Gateway, key: str) -> None:
        self.answers: list[httpx.Response] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._gw, self._key = gw, key
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set() or not self.answers:
            try:
                r = _chat(self._gw, self._key, {"messages": [{"role": "user", "content": "Hi"}]})
            except httpx.HTTPError as exc:
                self.failures.append(repr(exc))
                continue
            self.answers.append(r)

    def stop(self) -> list[httpx.Response]:
        self._stop.set()
        self._thread.join(600)
        return self.answers


@pytest.mark.parametrize("case", list(HOSTILE))
def test_a_hostile_schema_leaves_the_engine_and_other_tenants_alone(
    gateway: Gateway, case: str
) -> None:
    attacker, other_key = gateway.create_key("V3"), gateway.create_key("V3")
    before = _engine(gateway)
    other = _Other(gateway, other_key)
    r = _chat(gateway, attacker, HOSTILE[case])
    health = httpx.get(f"{gateway.base}/health", timeout=30)
    answers = other.stop()
    if case in REFUSED:
        assert r.status_code == 400, r.text
        error = r.json()["error"]
        assert error["code"] == "1214"
        assert REFUSED[case] in error["message"], error
    else:
        assert r.status_code == 200, r.text
        assert r.json()["choices"][0]["finish_reason"] != "network_error"
    assert health.status_code == 200
    after = _engine(gateway)
    assert after["pid"] == before["pid"] and after["restarts"] == before["restarts"]
    assert other.failures == []
    assert answers and all(a.status_code == 200 for a in answers), [a.text for a in answers]
    assert all(a.json()["choices"][0]["finish_reason"] != "network_error" for a in answers)


def test_a_clamped_max_length_still_fits_the_schema(gateway: Gateway) -> None:
    key = gateway.create_key("V3")
    r = _chat(gateway, key, {"response_format": _answer(LONG), "max_tokens": 40})
    assert r.status_code == 200, r.text
    content = r.json()["choices"][0]["message"]["content"]
    assert content.startswith('"')


def test_a_hostile_schema_through_the_async_route(gateway: Gateway) -> None:
    key = gateway.create_key("V3")
    before = _engine(gateway)
    refused = _chat(gateway, key, HOSTILE["minLength"], "async/chat/completions")
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "1214"
    accepted = _chat(gateway, key, HOSTILE["maxLength"], "async/chat/completions")
    assert accepted.status_code == 200, accepted.text
    task = accepted.json()["id"]
    headers = {"Authorization": f"Bearer {key}"}
    for _ in range(1200):  # bounded: about two minutes
        result = httpx.get(f"{gateway.zai_base}async-result/{task}", headers=headers, timeout=30)
        if result.json().get("task_status") != "PROCESSING":
            break
        time.sleep(0.1)
    assert result.json()["task_status"] == "SUCCESS", result.text
    assert _engine(gateway)["pid"] == before["pid"]


def test_hostile_schemas_in_a_batch_fail_their_lines(gateway: Gateway) -> None:
    key = gateway.create_key("V3")
    before = _engine(gateway)
    zai = client(gateway.zai_base, key)
    lines = [
        {
            "custom_id": case,
            "method": "POST",
            "url": "/v4/chat/completions",
            "body": {"model": "glm-4.7", "messages": ASK, "max_tokens": 8, **HOSTILE[case]},
        }
        for case in ("minLength", "maxLength", "self allOf, required")
    ]
    upload = zai.files.create(file=("hostile.jsonl", jsonl(lines)), purpose="batch")
    batch = zai.batches.create(
        input_file_id=upload.id, endpoint="/v4/chat/completions", completion_window="24h"
    )
    done = wait_for(zai, batch.id)
    assert done.status == "completed", done
    assert (done.request_counts.completed, done.request_counts.failed) == (2, 1)
    assert _engine(gateway)["pid"] == before["pid"]
