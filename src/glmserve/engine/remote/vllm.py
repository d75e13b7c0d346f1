"""vLLM's OpenAI-compatible ``/v1/completions`` with a token-ID prompt, and for requests
with images its token-in/token-out ``/inference/v1/generate``.

Token IDs come back per chunk in ``choices[0].token_ids`` (``return_token_ids``); the
last chunk carries ``usage`` with ``prompt_tokens_details.cached_tokens`` when the
server runs with ``--enable-prompt-tokens-details``. Grammars go in
``structured_outputs.grammar`` (vLLM ignores the old ``guided_grammar`` field).

``/inference/v1/generate`` (registered by ``vllm serve --enable-scale-out``) takes the
token prompt in ``token_ids``, the images as ``content_parts`` (``image_url`` parts with
``data:`` URLs; vLLM runs the model's processor, which expands each image token into the
image's tokens) and the sampling in ``sampling_params``. Its stream has the same
``choices`` and ``usage`` chunks; with ``return_token_ids`` the first chunk also carries
the expanded prompt (``prompt_token_ids``), whose length is the request's prompt tokens.

Every request carries a ``request_id`` of ours, and a cancelled one is aborted by that id
at ``/inference/v1/abort_requests`` (also registered by ``--enable-scale-out``) besides
closing its stream: vLLM notices a closed stream only when it next writes to it, which a
busy server may not do before it has generated the whole answer. vLLM names the request
``cmpl-<request_id>-0`` on ``/v1/completions`` (one prompt) and
``generate-tokens-<request_id>`` on the generate endpoint.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from glmserve.engine.remote.errors import WorkerFailed, stream_error
from glmserve.engine.remote.vision import WireMedia
from glmserve.engine.remote.wire import (
    Adapter,
    Event,
    StreamReader,
    int_or_none,
    sampling_fields,
)
from glmserve.engine.types import GenerationRequest

__all__ = ["VllmAdapter"]


GENERATE_PATH = "/inference/v1/generate"
ABORT_PATH = "/inference/v1/abort_requests"


class VllmAdapter(Adapter):
    kind = "vllm"
    path = "/v1/completions"
    takes_images = True

    def endpoint(self, media: WireMedia | None) -> str:
        return self.path if media is None else GENERATE_PATH

    def body(
        self,
        request: GenerationRequest,
        stop_ids: frozenset[int],
        model: str | None,
        media: WireMedia | None = None,
    ) -> dict[str, Any]:
        if media is not None:
            return _generate_body(request, stop_ids, model, media)
        body: dict[str, Any] = {
            "prompt": list(request.prompt_tokens),
            "max_tokens": request.max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
            "return_token_ids": True,
            "return_tokens_as_token_ids": True,
            "request_id": _request_id(),
            **_sampling(request, stop_ids),
        }
        if model is not None:
            body["model"] = model
        return body

    def abort(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        rid = body.get("request_id")
        if not isinstance(rid, str):
            return None
        name = f"generate-tokens-{rid}" if "token_ids" in body else f"cmpl-{rid}-0"
        return ABORT_PATH, {"request_ids": [name]}

    def reader(self, prompt_tokens: int, piece: Callable[[int], bytes]) -> StreamReader:
        return _Reader(prompt_tokens)


def _request_id() -> str:
    return f"glmserve-{uuid.uuid4().hex}"


def _sampling(request: GenerationRequest, stop_ids: frozenset[int]) -> dict[str, Any]:
    s = request.sampling
    fields = sampling_fields(request, stop_ids)
    if s.seed is not None:
        fields["seed"] = s.seed
    if s.grammar is not None:
        fields["structured_outputs"] = {"grammar": s.grammar}
    return fields


def _generate_body(
    request: GenerationRequest, stop_ids: frozenset[int], model: str | None, media: WireMedia
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "request_id": _request_id(),
        "token_ids": media.token_ids,
        "content_parts": [{"type": "image_url", "url": url} for url in media.images],
        "sampling_params": {"max_tokens": request.max_tokens, **_sampling(request, stop_ids)},
        "stream": True,
        "stream_options": {"include_usage": True},
        "return_token_ids": True,
    }
    if model is not None:
        body["model"] = model
    return body


class _Reader(StreamReader):
    def __init__(self, prompt_tokens: int) -> None:
        self._prompt_tokens = prompt_tokens

    def feed(self, data: dict[str, Any]) -> Event:
        if "error" in data:
            raise stream_error(data["error"], self._prompt_tokens)
        event = Event()
        prompt = data.get("prompt_token_ids")  # the generate endpoint's first chunk
        if isinstance(prompt, list):
            event.prompt_tokens = len(prompt)
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
