"""The engine interface: prompt tokens in, a stream of tokens with their text out.

Every backend implements ``Engine``: the embedded llama.cpp (engine/llama/, with its
continuous-batching scheduler, run in a worker process) and remote vLLM / SGLang /
llama-server workers (engine/remote/). Upper layers see only these types.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from glmserve.engine.media import MediaPrompt, MediaTokens

__all__ = [
    "SamplingParams",
    "GenerationRequest",
    "TokenOut",
    "Usage",
    "FinishReason",
    "EngineInfo",
    "EngineStats",
    "EngineBusy",
    "ContextExceeded",
    "EmbeddingFailed",
    "HealthState",
    "WorkerStats",
    "Generation",
    "QueuedGeneration",
    "Engine",
]

FinishReason = Literal["stop", "length", "cancelled", "error"]


@dataclass(frozen=True)
class SamplingParams:
    """Per-request sampling; ``temperature == 0`` means greedy decoding."""

    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    repetition_penalty: float = 1.0
    frequency_penalty: float = 0.0
    presence_penalty: float = 0.0
    seed: int | None = None
    grammar: str | None = None
    """A llama.cpp grammar (GBNF) the output must follow, or None."""

    @property
    def greedy(self) -> bool:
        return self.temperature == 0.0


@dataclass(frozen=True)
class GenerationRequest:
    prompt_tokens: Sequence[int]
    max_tokens: int
    sampling: SamplingParams = field(default_factory=SamplingParams)
    stop: tuple[str, ...] = ()
    """Stop strings: generation ends at the first one, which is not part of the text."""
    ignore_eos: bool = False
    """End-of-generation tokens do not end the output (benchmarks: decode max_tokens)."""
    media: MediaPrompt | None = None
    """The rendered prompt and its images, when it has any; ``prompt_tokens`` is then
    ``Engine.tokenize_media``'s token list (placeholders where images go)."""
    tenant: str = ""
    """Whose request it is, an opaque id (the API key's): waiting requests are admitted
    taking turns between tenants (engine/scheduler.py), so one tenant's backlog does not
    hold up another's request."""
    label: str = ""
    """What the logs call it (the request's id): an engine crash names the requests
    it was running."""


@dataclass(frozen=True)
class TokenOut:
    """One generated token and the text it releases.

    ``text`` may be empty while a multi-byte character or a possible stop string is
    still incomplete; the held-back text comes out with a later token.
    """

    token_id: int
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    cached_tokens: int = 0
    """Prompt tokens whose KV state was reused rather than computed."""
    completion_tokens: int = 0


@dataclass(frozen=True)
class EngineInfo:
    """Facts about the loaded weights that the chat layer needs."""

    context_size: int
    trained_context: int
    chat_template: str | None
    bos_token: str
    eos_token: str
    description: str


@dataclass(frozen=True)
class EngineStats:
    running: int
    waiting: int
    finished: int
    cancelled: int
    generated_tokens: int
    prompt_tokens: int = 0
    cached_tokens: int = 0
    kv_cells: int = 0
    kv_cells_used: int = 0
    decode_steps: int = 0
    in_flight: int = 0
    """Generations started and not yet ended, as the caller sees them."""
    restarts: int = 0
    """Times the engine's worker process died and was started again."""
    pid: int | None = None
    """The process that decodes (the worker process, or this one)."""


HealthState = Literal["unknown", "up", "down"]


@dataclass(frozen=True)
class WorkerStats:
    """One worker of a remote engine, as the gateway sees it."""

    url: str
    kind: str
    health: HealthState
    in_flight: int
    max_in_flight: int
    routed: int
    """Requests sent to it (failover attempts included)."""
    errors: int
    """Requests that failed on it (before or after their first token)."""
    finished: int
    prompt_tokens: int
    cached_tokens: int
    generated_tokens: int
    readmissions: int
    last_error: str | None


class EngineBusy(Exception):
    """The engine's waiting queue is full; the request was not queued."""


class EmbeddingFailed(Exception):
    """An embedding engine could not pool a request's inputs (its process died, or
    llama.cpp failed)."""


class ContextExceeded(Exception):
    """The engine's context window cannot hold the prompt (and its max_tokens): raised
    by a generation's iterator before any token (a remote worker that refused it)."""

    def __init__(self, message: str, prompt_tokens: int, context_size: int | None) -> None:
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.context_size = context_size


class Generation(ABC):
    """A running generation: iterate it for tokens, then read finish_reason and usage."""

    finish_reason: FinishReason | None = None
    usage: Usage = Usage()
    error: str | None = None

    @abstractmethod
    def __aiter__(self) -> AsyncIterator[TokenOut]: ...

    @abstractmethod
    def cancel(self) -> None:
        """Stop generating within one decode step and free the engine."""


class QueuedGeneration(Generation):
    """A generation whose tokens arrive on an asyncio queue; ``None`` marks the end."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[TokenOut | None] = asyncio.Queue()

    async def __aiter__(self) -> AsyncIterator[TokenOut]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item


class Engine(ABC):
    info: EngineInfo
    supports_grammar: bool = False
    """The backend enforces ``SamplingParams.grammar``; if not, constrained requests are
    refused (never run unconstrained)."""

    @abstractmethod
    def tokenize(self, text: str) -> list[int]:
        """Tokens of a rendered prompt: special tokens parsed, BOS added if the model wants it."""

    def grammar_parses(self, grammar: str) -> bool:
        """Whether the engine can parse ``grammar``, checked where the request is
        prepared, before it reaches the engine (True where this cannot be told)."""
        return True

    supports_images: bool = False
    """The engine takes images (a projector is loaded); otherwise media is refused."""

    def tokenize_media(self, prompt: MediaPrompt) -> MediaTokens:
        """Tokens of a prompt with images: text tokens, and each image's placeholders
        (as many as the tokens it takes). Only engines that support images."""
        raise NotImplementedError("this engine takes no images")

    @abstractmethod
    def start(self, request: GenerationRequest) -> Generation:
        """Queue a generation; it runs as soon as the engine is free."""

    @abstractmethod
    def stats(self) -> EngineStats: ...

    def worker_stats(self) -> tuple[WorkerStats, ...]:
        """The workers behind the engine (remote engines); none for an embedded one."""
        return ()

    @abstractmethod
    def close(self) -> None: ...
