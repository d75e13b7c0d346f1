"""llama.cpp's llama-server: ``/completion`` with a token-array prompt.

Each streamed event carries the token it adds in ``tokens`` (``return_tokens``),
``tokens_predicted`` (how many were generated so far) and, with ``timings_per_token``,
``timings.cache_n`` (prompt tokens reused from the slot's cache). The last event has
``stop: true`` and ``stop_type``. llama-server holds back a token that ends inside a
UTF-8 character and sends its text with the next one, without its ID: the reader
recovers that text from ``content`` as an orphan.

Sampling is sent in full: llama-server's own defaults (top_k 40, top_p 0.95, min_p
0.05, repeat_penalty 1.1) would otherwise apply.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from glmserve.engine.remote.errors import stream_error
from glmserve.engine.remote.vision import WireMedia
from glmserve.engine.remote.wire import Adapter, Event, StreamReader, int_or_none
from glmserve.engine.types import GenerationRequest

__all__ = ["LlamaServerAdapter"]

_PENALTY_WINDOW = 64  # the embedded engine's penalty window (engine/llama/native.py)


class LlamaServerAdapter(Adapter):
    kind = "llama-server"
    path = "/completion"

    def body(
        self,
        request: GenerationRequest,
        stop_ids: frozenset[int],
        model: str | None,
        media: WireMedia | None = None,
    ) -> dict[str, Any]:
        # takes_images is False: the engine never sends it media.
        s = request.sampling
        body: dict[str, Any] = {
            "prompt": list(request.prompt_tokens),
            "n_predict": request.max_tokens,
            "stream": True,
            "cache_prompt": True,
            "return_tokens": True,
            "timings_per_token": True,
            "temperature": 0.0 if s.greedy else s.temperature,
            "top_k": s.top_k,
            "top_p": s.top_p,
            "min_p": s.min_p,
            "typical_p": 1.0,
            "repeat_penalty": s.repetition_penalty,
            "repeat_last_n": _PENALTY_WINDOW,
            "frequency_penalty": s.frequency_penalty,
            "presence_penalty": s.presence_penalty,
            "dry_multiplier": 0.0,
            "xtc_probability": 0.0,
            "mirostat": 0,
            "seed": -1 if s.seed is None else s.seed & 0xFFFFFFFF,
            "stop": list(request.stop),
            "n_probs": 0,
        }
        if s.grammar is not None:
            body["grammar"] = s.grammar
        if model is not None:
            body["model"] = model
        return body

    def reader(self, prompt_tokens: int, piece: Callable[[int], bytes]) -> StreamReader:
        return _Reader(prompt_tokens, piece)


class _Reader(StreamReader):
    def __init__(self, prompt_tokens: int, piece: Callable[[int], bytes]) -> None:
        self._prompt_tokens = prompt_tokens
        self._piece = piece
        self._seen = 0

    def feed(self, data: dict[str, Any]) -> Event:
        if "error" in data:
            raise stream_error(data["error"], self._prompt_tokens)
        tokens = [t for t in data.get("tokens") or [] if isinstance(t, int)]
        event = Event(tokens=tokens, prompt_tokens=int_or_none(data.get("tokens_evaluated")))
        predicted = int_or_none(data.get("tokens_predicted"))
        if predicted is not None and predicted > self._seen + len(tokens):
            event.orphan_count = predicted - self._seen - len(tokens)
            event.orphan = self._orphan_text(str(data.get("content") or ""), tokens)
        self._seen += len(tokens) + event.orphan_count
        timings = data.get("timings")
        if isinstance(timings, dict):
            event.cached_tokens = int_or_none(timings.get("cache_n"))
        if data.get("stop") is True:
            event.done = True
            event.finish = "length" if data.get("stop_type") == "limit" else "stop"
        return event

    def _orphan_text(self, content: str, tokens: list[int]) -> bytes:
        """The bytes of ``content`` that the event's own tokens do not account for."""
        text = content.encode("utf-8")
        own = b"".join(self._piece(t) for t in tokens)
        if own and text.endswith(own):
            return text[: len(text) - len(own)]
        return text  # the token is special and llama-server left its text out
