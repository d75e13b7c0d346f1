"""Batch lines through the serving pipeline: the platform's ``LineRunner``.

Each endpoint a batch may name has an entry in a small table (``BatchEndpoint``: the
request body in, the synchronous endpoint's HTTP status and body out). A line runs at
low priority (priority.py): it waits until its model is idle of interactive work, and
gives way, to run again later, when an interactive request starts. It takes no
concurrency slot of the key's tier and is billed at the model's batch price.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any, Protocol

from glmserve.catalog import BATCH_DISCOUNT, Price
from glmserve.errors import GlmServeError
from glmserve.platform.auth import Principal
from glmserve.platform.batch_input import endpoint_kind
from glmserve.platform.batches import LineOutcome
from glmserve.protocol.chat import parse_chat_request
from glmserve.protocol.responses import error_body
from glmserve.serving.embeddings.service import EmbeddingService
from glmserve.serving.models.registry import ModelRegistry
from glmserve.serving.run.completion import Completion, completion_result
from glmserve.serving.run.priority import Preempted, Priority
from glmserve.serving.service import CompletionService

__all__ = ["BatchEndpoint", "BatchLines", "ChatEndpoint", "EmbeddingsEndpoint", "NotServed"]


class BatchEndpoint(Protocol):
    async def run(self, body: dict[str, Any], caller: str) -> tuple[int, dict[str, Any]]:
        """What the synchronous endpoint answers for ``body``: HTTP status and body
        (errors as Z.AI error bodies, never raised). Cancellation must stop the work."""
        ...

    def batch_price(self, model: str) -> Price | None:
        """What a line for ``model`` costs per million tokens in a batch."""
        ...


class ChatEndpoint:
    """``/v4/chat/completions``: the same prepare, engine and result body as the
    synchronous endpoint, without admission (a batch takes no tier slots)."""

    def __init__(self, completions: CompletionService, models: ModelRegistry) -> None:
        self._completions = completions
        self._models = models

    def batch_price(self, model: str) -> Price | None:
        served = self._models.get(model)
        return served.spec.batch_price if served is not None else None

    async def run(self, body: dict[str, Any], caller: str) -> tuple[int, dict[str, Any]]:
        completion: Completion | None = None
        try:
            chat = parse_chat_request(
                json.dumps(body).encode("utf-8"),
                max_depth=self._completions.limits.max_json_depth,
            )
            prepared = await self._completions.prepare_off_loop(chat)
            # Content safety as on the synchronous endpoint; batch lines never turn it off.
            verdict = await self._completions.screen(prepared, Principal(caller))
            # A batch line answers with a whole body, whatever ``stream`` said.
            completion = self._completions.run(
                replace(prepared, stream=False),
                batch=True,
                input_verdict=verdict,
                tenant=caller,
            )
            return 200, await completion_result(completion)
        except GlmServeError as exc:
            return exc.status, error_body(exc)
        except asyncio.CancelledError:
            if completion is not None:
                completion.cancel()
            raise


class EmbeddingsEndpoint:
    """``/v4/embeddings``: the same body as the synchronous endpoint
    (serving/embeddings/service.py),
    billed here at the batch price rather than through admission."""

    def __init__(self, embeddings: EmbeddingService) -> None:
        self._embeddings = embeddings

    async def run(self, body: dict[str, Any], caller: str) -> tuple[int, dict[str, Any]]:
        try:
            return 200, await self._embeddings.create(body)
        except GlmServeError as exc:
            return exc.status, error_body(exc)

    def batch_price(self, model: str) -> Price | None:
        return self._embeddings.price(model).times(BATCH_DISCOUNT)


class NotServed:
    """An endpoint this server does not serve (yet): each line gets this error."""

    def __init__(self, what: str) -> None:
        self._what = what

    async def run(self, body: dict[str, Any], caller: str) -> tuple[int, dict[str, Any]]:
        error = GlmServeError(
            f"{self._what} are not served by this server.", code="1222", status=404
        )
        return error.status, error_body(error)

    def batch_price(self, model: str) -> Price | None:
        return None


class BatchLines:
    def __init__(
        self,
        completions: CompletionService,
        models: ModelRegistry,
        priority: Priority,
        embeddings: EmbeddingService | None = None,
    ) -> None:
        self._models = models
        self._priority = priority
        self.endpoints: dict[str, BatchEndpoint] = {
            "chat": ChatEndpoint(completions, models),
            "embeddings": (
                EmbeddingsEndpoint(embeddings)
                if embeddings is not None
                else NotServed("Embeddings")
            ),
        }

    def register(self, kind: str, endpoint: BatchEndpoint) -> None:
        """Serve a kind of endpoint ("chat", "embeddings") in batches."""
        self.endpoints[kind] = endpoint

    async def run(
        self, endpoint: str, body: dict[str, Any], key_id: str, may_start: Callable[[], bool]
    ) -> LineOutcome | None:
        entry = self.endpoints[endpoint_kind(endpoint) or "chat"]
        model = body.get("model") if isinstance(body.get("model"), str) else ""
        assert isinstance(model, str)
        while True:
            await self._priority.wait_idle(model)
            if not may_start():
                return None
            try:
                async with self._priority.batch_work(model):
                    status, answer = await entry.run(body, key_id)
            except Preempted:
                continue
            return self._outcome(entry, model, status, answer)

    def _outcome(
        self, entry: BatchEndpoint, model: str, status: int, body: dict[str, Any]
    ) -> LineOutcome:
        served = self._models.get(model)
        usage = body.get("usage") if status == 200 else None
        counts = usage if isinstance(usage, dict) else {}
        details = counts.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else 0
        choices = body.get("choices")
        finish = ""
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            finish = str(choices[0].get("finish_reason") or "")
        return LineOutcome(
            status_code=status,
            body=body,
            model=served.code if served is not None else model,
            price=entry.batch_price(model),
            prompt_tokens=int(counts.get("prompt_tokens") or 0),
            cached_tokens=int(cached or 0),
            completion_tokens=int(counts.get("completion_tokens") or 0),
            finish_reason=finish,
        )
