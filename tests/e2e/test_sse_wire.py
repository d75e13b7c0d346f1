"""The stream on the wire, byte for byte as the Z.AI SDKs' SSE parser needs it."""

from __future__ import annotations

import json

import httpx

from tests.conftest import Server

COUNT = [{"role": "user", "content": "Count from 1 to 300: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,"}]


def test_event_framing_usage_and_done(server: Server) -> None:
    body = {
        "model": "gemma-3-270m",
        "messages": COUNT,
        "stream": True,
        "do_sample": False,
        "max_tokens": 9,
    }
    with httpx.stream("POST", f"{server.zai_base}chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    assert raw.endswith("data: [DONE]\n\n")
    events = raw.split("\n\n")[:-1]  # every event ends with a blank line
    assert all(e.startswith("data: ") or e.startswith(":") for e in events)
    data = [e[len("data: ") :] for e in events if e.startswith("data: ")]
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1
    finals = [c for c in chunks if c["choices"][0].get("finish_reason")]
    assert finals == [chunks[-1]]
    final = chunks[-1]
    assert final["choices"][0] == {
        "index": 0,
        "finish_reason": "length",
        "delta": {"role": "assistant", "content": ""},
    }
    usage = final["usage"]
    assert usage["completion_tokens"] == 9
    assert usage["total_tokens"] == usage["prompt_tokens"] + 9
    assert usage["prompt_tokens_details"] == {
        "cached_tokens": usage["prompt_tokens_details"]["cached_tokens"]
    }
    assert all("usage" not in c for c in chunks[:-1])
    for c in chunks[:-1]:
        assert c["choices"][0]["delta"]["role"] == "assistant"
        assert c["choices"][0]["delta"]["content"]
        assert {"id", "created", "model", "choices"} <= set(c)
