"""What each worker kind is sent and how its stream is read (documented wire shapes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from glmserve.engine.remote.errors import (
    ContextExceeded,
    WorkerFailed,
    WorkerOverloaded,
    WorkerRejected,
    http_error,
)
from glmserve.engine.remote.llama_server import LlamaServerAdapter
from glmserve.engine.remote.sglang import SglangAdapter
from glmserve.engine.remote.spec import RemoteSpec, WorkerSpec
from glmserve.engine.remote.vllm import VllmAdapter
from glmserve.engine.types import GenerationRequest, SamplingParams

STOPS = frozenset({2, 7})


def request(**sampling: object) -> GenerationRequest:
    return GenerationRequest([1, 2, 3], 50, SamplingParams(**sampling), ("END",))  # type: ignore[arg-type]


def test_vllm_body() -> None:
    body = VllmAdapter().body(request(temperature=0.0, grammar='root ::= "x"'), STOPS, "glm")
    assert body["prompt"] == [1, 2, 3] and body["max_tokens"] == 50 and body["model"] == "glm"
    assert body["stream"] and body["stream_options"] == {"include_usage": True}
    assert body["return_token_ids"] and body["return_tokens_as_token_ids"]
    assert body["temperature"] == 0.0 and body["top_k"] == -1
    assert body["stop_token_ids"] == [2, 7] and body["stop"] == ["END"]
    assert body["structured_outputs"] == {"grammar": 'root ::= "x"'}
    assert "guided_grammar" not in body and "seed" not in body
    assert not body["skip_special_tokens"]
    seeded = VllmAdapter().body(request(seed=5, top_k=20, min_p=0.1), STOPS, None)
    assert seeded["seed"] == 5 and seeded["top_k"] == 20 and seeded["min_p"] == 0.1
    assert "model" not in seeded


def test_vllm_stream() -> None:
    reader = VllmAdapter().reader(3, bytes)
    first = reader.feed(
        {"choices": [{"text": "a", "token_ids": [10, 11], "prompt_token_ids": [1]}]}
    )
    assert first.tokens == [10, 11] and not first.done
    last = reader.feed({"choices": [{"text": "", "token_ids": [12], "finish_reason": "length"}]})
    assert last.finish == "length" and not last.done
    usage = reader.feed(
        {
            "choices": [],
            "usage": {"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": 2}},
        }
    )
    assert usage.done and usage.cached_tokens == 2 and usage.prompt_tokens == 3
    assert VllmAdapter().reader(3, bytes).feed({"choices": [], "usage": {}}).cached_tokens == 0
    with pytest.raises(WorkerFailed):
        reader.feed({"choices": [{"token_ids": [], "finish_reason": "abort"}]})


def test_sglang_body() -> None:
    body = SglangAdapter().body(request(temperature=0.7, seed=3, grammar="root ::= x"), STOPS, "m")
    params = body["sampling_params"]
    assert body["input_ids"] == [1, 2, 3] and body["stream"] and "model" not in body
    assert params["max_new_tokens"] == 50 and params["temperature"] == 0.7
    assert params["ebnf"] == "root ::= x" and params["stop_token_ids"] == [2, 7]
    assert params["sampling_seed"] == 3 and params["top_k"] == -1


@pytest.mark.parametrize("incremental", [False, True])
def test_sglang_stream_cumulative_or_incremental(incremental: bool) -> None:
    reader = SglangAdapter().reader(3, bytes)
    chunks = [[5, 6], [7], [8, 9]]
    seen: list[int] = []
    total: list[int] = []
    for i, chunk in enumerate(chunks):
        total += chunk
        meta = {"prompt_tokens": 3, "completion_tokens": len(total), "cached_tokens": 2}
        if i == len(chunks) - 1:
            meta["finish_reason"] = {"type": "stop", "matched": 2}
        ids = chunk if incremental else list(total)
        event = reader.feed({"text": "", "output_ids": ids, "meta_info": meta})
        seen += event.tokens
    assert seen == [5, 6, 7, 8, 9]
    assert event.done and event.finish == "stop" and event.cached_tokens == 2


def test_sglang_abort_is_an_error() -> None:
    reader = SglangAdapter().reader(5000, bytes)
    too_long = {
        "type": "abort",
        "status_code": 400,
        "message": "The input (5000 tokens) is longer than the model's context length "
        "(4096 tokens).",
    }
    with pytest.raises(ContextExceeded) as caught:
        reader.feed({"output_ids": [], "meta_info": {"finish_reason": too_long}})
    assert caught.value.context_size == 4096


def test_llama_server_body_sends_every_sampler() -> None:
    body = LlamaServerAdapter().body(request(temperature=0.0), STOPS, None)
    assert body["prompt"] == [1, 2, 3] and body["n_predict"] == 50
    assert body["cache_prompt"] and body["return_tokens"] and body["stream"]
    assert body["temperature"] == 0.0 and body["seed"] == -1
    # llama-server's own defaults would otherwise apply (top_k 40, min_p 0.05, ...).
    assert body["top_k"] == 0 and body["top_p"] == 1.0 and body["min_p"] == 0.0
    assert body["repeat_penalty"] == 1.0 and body["stop"] == ["END"]
    assert "grammar" not in body
    assert LlamaServerAdapter().body(request(grammar="g"), STOPS, None)["grammar"] == "g"


def test_llama_server_stream_recovers_tokens_without_ids() -> None:
    pieces = {100: b"\xe4", 101: b"\xbd", 102: b"\xa0", 103: b"!"}
    reader = LlamaServerAdapter().reader(3, lambda t: pieces[t])
    assert reader.feed({"content": "", "tokens": [], "tokens_predicted": 0}).tokens == []
    # Tokens 100 and 101 end inside a character: llama-server sends no event for them,
    # then "你" with only the last token's ID.
    event = reader.feed({"content": "你", "tokens": [102], "tokens_predicted": 3})
    assert event.tokens == [102] and event.orphan_count == 2 and event.orphan == b"\xe4\xbd"
    event = reader.feed({"content": "!", "tokens": [103], "tokens_predicted": 4})
    assert event.orphan_count == 0
    last = reader.feed(
        {"content": "", "tokens": [], "stop": True, "stop_type": "limit", "timings": {"cache_n": 7}}
    )
    assert last.done and last.finish == "length" and last.cached_tokens == 7


def test_http_errors_are_classified() -> None:
    llama = (
        b'{"error": {"code": 400, "message": "request (5000 tokens) exceeds the available '
        b'context size (4096 tokens), try increasing it", "type": "exceed_context_size_error"}}'
    )
    err = http_error(400, llama, 5000)
    assert isinstance(err, ContextExceeded) and err.context_size == 4096
    vllm = (
        b'{"error": {"message": "This model\'s maximum context length is 2048 tokens. However, '
        b'your prompt contains 3000 input tokens", "type": "BadRequestError", "code": 400}}'
    )
    assert isinstance(http_error(400, vllm, 3000), ContextExceeded)
    assert isinstance(http_error(400, b'{"error": {"message": "bad grammar"}}', 3), WorkerRejected)
    assert isinstance(
        http_error(503, b'{"error": {"message": "Loading model"}}', 3), WorkerOverloaded
    )
    assert isinstance(http_error(429, b"slow down", 3), WorkerOverloaded)
    assert isinstance(http_error(500, b"oops", 3), WorkerFailed)
    assert http_error(500, b"oops", 3).retryable and not http_error(400, b"x", 3).retryable


def test_spec_rejects_bad_values() -> None:
    ok = WorkerSpec("http://10.0.0.1:8000", "vllm")
    RemoteSpec((ok,), Path("t"), 4096)
    with pytest.raises(ValueError, match="kind"):
        WorkerSpec("http://h:1", "tgi")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="url"):
        WorkerSpec("10.0.0.1:8000", "vllm")
    with pytest.raises(ValueError, match="max_in_flight"):
        WorkerSpec("http://h:1", "vllm", max_in_flight=0)
    with pytest.raises(ValueError, match="routing"):
        RemoteSpec((ok,), Path("t"), 4096, routing="random")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one worker"):
        RemoteSpec((), Path("t"), 4096)
    with pytest.raises(ValueError, match="twice"):
        RemoteSpec((ok, WorkerSpec("http://10.0.0.1:8000/", "vllm")), Path("t"), 4096)
