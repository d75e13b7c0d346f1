"""SGLang's native ``/generate`` with ``input_ids``, and for requests with images
``image_data`` beside them (one entry per image token in ``input_ids``, each a ``data:``
URL, which SGLang's image loader takes like a file name or URL; its processor expands
each image token into the image's tokens, and ``meta_info.prompt_tokens`` counts them).

Each streamed event carries ``output_ids`` (all IDs so far, or only the new ones when
the server streams incremental output) and ``meta_info`` with ``prompt_tokens``,
``completion_tokens``, ``cached_tokens`` and, at the end, ``finish_reason`` (an object
whose ``type`` is "stop", "length" or "abort"). Grammars go in ``sampling_params.ebnf``.
Written against SGLang's documented wire format; not run against a live server here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from glmserve.engine.remote.errors import http_error, stream_error
from glmserve.engine.remote.vision import WireMedia
from glmserve.engine.remote.wire import (
    Adapter,
    Event,
    StreamReader,
    int_or_none,
    sampling_fields,
)
from glmserve.engine.types import GenerationRequest

__all__ = ["SglangAdapter"]


class SglangAdapter(Adapter):
    kind = "sglang"
    path = "/generate"
    takes_images = True

    def body(
        self,
        request: GenerationRequest,
        stop_ids: frozenset[int],
        model: str | None,
        media: WireMedia | None = None,
    ) -> dict[str, Any]:
        s = request.sampling
        params: dict[str, Any] = {
            "max_new_tokens": request.max_tokens,
            **sampling_fields(request, stop_ids),
        }
        if s.seed is not None:
            params["sampling_seed"] = s.seed
        if s.grammar is not None:
            params["ebnf"] = s.grammar
        # One model per SGLang server: /generate takes no model name.
        if media is None:
            return {
                "input_ids": list(request.prompt_tokens),
                "sampling_params": params,
                "stream": True,
            }
        return {
            "input_ids": media.token_ids,
            "image_data": list(media.images),
            "sampling_params": params,
            "stream": True,
        }

    def reader(self, prompt_tokens: int, piece: Callable[[int], bytes]) -> StreamReader:
        return _Reader(prompt_tokens)


class _Reader(StreamReader):
    def __init__(self, prompt_tokens: int) -> None:
        self._prompt_tokens = prompt_tokens
        self._seen = 0

    def feed(self, data: dict[str, Any]) -> Event:
        if "error" in data:
            raise stream_error(data["error"], self._prompt_tokens)
        meta = data.get("meta_info") or {}
        ids = [t for t in data.get("output_ids") or [] if isinstance(t, int)]
        total = int_or_none(meta.get("completion_tokens"))
        # All IDs so far (the default) or only the new ones (incremental streaming).
        new = ids[self._seen :] if total is not None and len(ids) == total else ids
        self._seen += len(new)
        event = Event(
            tokens=new,
            prompt_tokens=int_or_none(meta.get("prompt_tokens")),
            cached_tokens=int_or_none(meta.get("cached_tokens")),
        )
        reason = meta.get("finish_reason")
        if isinstance(reason, dict):
            kind = reason.get("type")
            if kind == "abort":
                status = int_or_none(reason.get("status_code")) or 500
                raw = json.dumps({"message": reason.get("message") or "aborted"}).encode()
                raise http_error(status, raw, self._prompt_tokens)
            event.done = True
            event.finish = "length" if kind == "length" else "stop"
        return event
