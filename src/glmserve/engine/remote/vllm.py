"""vLLM's OpenAI-compatible ``/v1/completions`` with a token-ID prompt.

Token IDs come back per chunk in ``choices[0].token_ids`` (``return_token_ids``); the
last chunk carries ``usage`` with ``prompt_tokens_details.cached_tokens`` when the
server runs with ``--enable-prompt-tokens-details``. Grammars go in
``structured_outputs.grammar`` (vLLM ignores the old ``guided_grammar`` field).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glmserve.engine.remote.errors import WorkerFailed, stream_error
from glmserve.engine.remote.wire import (
    Adapter,
    Event,
    StreamReader,
    int_or_none,
    sampling_fields,
)
from glmserve.engine.types import GenerationRequest

__all__ = ["VllmAdapter"]


class VllmAdapter(Adapter):
    kind = "vllm"
    path = "/v1/completions"

    def body(
        self, request: GenerationRequest, stop_ids: frozenset[int], model: str | None
    ) -> dict[str, Any]:
        s = request.sampling
        body: dict[str, Any] = {
            "prompt": list(request.prompt_tokens),
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "return_token_ids": True,
            "return_tokens_as_token_ids": True,
            **sampling_fields(request, stop_ids),
        }
        if s.seed is not None:
            body["seed"] = s.seed
        if s.grammar is not None:
            body["structured_outputs"] = {"grammar": s.grammar}
        if model is not None:
            body["model"] = model
        return body

    def reader(self, prompt_tokens: int, piece: Callable[[int], bytes]) -> StreamReader:
        return _Reader(prompt_tokens)


class _Reader(StreamReader):
    def __init__(self, prompt_tokens: int) -> None:
        self._prompt_tokens = prompt_tokens

    def feed(self, data: dict[str, Any]) -> Event:
        if "error" in data:
            raise stream_error(data["error"], self._prompt_tokens)
        event = Event()
        for choice in data.get("choices") or []:
            event.tokens.extend(t for t in choice.get("token_ids") or [] if isinstance(t, int))
            reason = choice.get("finish_reason")
            if reason in ("stop", "length"):
                event.finish = reason
            elif reason is not None:  # "abort", "error": the engine gave up on it
                raise WorkerFailed(f"vLLM ended the request with finish_reason {reason!r}")
        usage = data.get("usage")
        if isinstance(usage, dict):
            event.done = True  # include_usage: the usage chunk is the last one
            event.prompt_tokens = int_or_none(usage.get("prompt_tokens"))
            details = usage.get("prompt_tokens_details")
            cached = details.get("cached_tokens") if isinstance(details, dict) else None
            event.cached_tokens = int_or_none(cached) or 0
        return event
