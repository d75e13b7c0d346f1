"""What every worker adapter provides: the request body for a generation, and a reader
that turns each event of the worker's stream into an ``Event``.

Adapters only translate; they hold no connection and make no decisions. The request
runner (dispatch.py) sends, reads the server-sent events, detokenizes and retries.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from glmserve.engine.remote.vision import WireMedia
from glmserve.engine.types import GenerationRequest

__all__ = ["Event", "StreamReader", "Adapter", "int_or_none", "sampling_fields"]


@dataclass
class Event:
    """One event of a worker's stream, in the engine's terms."""

    tokens: list[int] = field(default_factory=list)
    """Generated token IDs this event adds, in order."""
    orphan: bytes = b""
    """Text of generated tokens whose IDs the worker did not send (llama-server drops
    the IDs of tokens that end inside a UTF-8 character); it comes before ``tokens``."""
    orphan_count: int = 0
    done: bool = False
    """The worker has finished; nothing after this event matters."""
    finish: Literal["stop", "length"] | None = None
    prompt_tokens: int | None = None
    cached_tokens: int | None = None


class StreamReader(ABC):
    """The state of one request's stream (cumulative fields, counts seen so far)."""

    @abstractmethod
    def feed(self, data: dict[str, Any]) -> Event:
        """The event for one ``data:`` payload; raises WorkerError for an error event."""


class Adapter(ABC):
    kind: str
    path: str
    """The generation endpoint, relative to the worker's base URL."""
    health_path: str = "/health"
    takes_images: bool = False
    """The worker takes images with a token prompt (``body``'s ``media``)."""

    def endpoint(self, media: WireMedia | None) -> str:
        """The endpoint of a request, with or without images."""
        return self.path

    @abstractmethod
    def body(
        self,
        request: GenerationRequest,
        stop_ids: frozenset[int],
        model: str | None,
        media: WireMedia | None = None,
    ) -> dict[str, Any]:
        """The JSON body of a streaming, token-in/token-out generation request;
        ``media``: its token prompt and images, for a request with images."""

    def abort(self, body: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
        """The endpoint and body that abort the request sent with ``body``, for workers
        where closing the stream is not the documented way (None: closing is)."""
        return None

    @abstractmethod
    def reader(self, prompt_tokens: int, piece: Callable[[int], bytes]) -> StreamReader: ...


def sampling_fields(request: GenerationRequest, stop_ids: frozenset[int]) -> dict[str, Any]:
    """The sampling fields vLLM and SGLang both take (vLLM's SamplingParams names);
    greedy is temperature 0, no top-k is -1, special tokens come back as text."""
    s = request.sampling
    return {
        "temperature": 0.0 if s.greedy else s.temperature,
        "top_p": s.top_p,
        "top_k": s.top_k if s.top_k > 0 else -1,
        "min_p": s.min_p,
        "repetition_penalty": s.repetition_penalty,
        "frequency_penalty": s.frequency_penalty,
        "presence_penalty": s.presence_penalty,
        "stop_token_ids": sorted(stop_ids),
        "stop": list(request.stop),
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
    }


def int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
