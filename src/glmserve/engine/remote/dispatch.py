"""One generation on the workers: send, read the stream, detokenize, fail over.

Runs on the engine's loop. Text is decoded on the gateway from the token IDs the worker
returns (engine/text.py: UTF-8 held back until complete, stop strings matched exactly),
so generation ends at the same token as on the embedded engine and
``completion_tokens`` counts exactly what was generated up to there. When the gateway
stops first (a stop string, an end-of-generation token, max_tokens), it keeps reading
only while the worker sends no new tokens, to collect the usage the worker sends last
(vLLM reports cached tokens only there); the first new token closes the stream, which
aborts the request on the worker.

A failure before the first token is retried once on another worker; after it, the
generation ends with ``finish_reason="error"``.

A request with images (``vision``) is sent in the worker's media form (vision.py),
PNG-encoded off the loop; its prompt tokens are the worker's count of the expanded
prompt. A cancelled request is aborted by closing its stream, and where the adapter
names an abort call (vLLM's generate endpoint) by that call too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from glmserve.engine.remote.errors import (
    ContextExceeded,
    WorkerError,
    WorkerFailed,
    WorkerOverloaded,
    WorkerUnreachable,
    http_error,
)
from glmserve.engine.remote.generation import RemoteGeneration
from glmserve.engine.remote.pool import Pool, ReplicaOutcome
from glmserve.engine.remote.replica import Replica
from glmserve.engine.remote.vision import RemoteVision, WireMedia
from glmserve.engine.remote.wire import Event
from glmserve.engine.text import TextStream
from glmserve.engine.types import EngineBusy, FinishReason, GenerationRequest, TokenOut, Usage

__all__ = ["Dispatch"]

log = logging.getLogger(__name__)


class Dispatch:
    def __init__(
        self,
        pool: Pool,
        gen: RemoteGeneration,
        request: GenerationRequest,
        first: Replica,
        hashes: Sequence[int],
        *,
        piece: Callable[[int], bytes],
        stop_ids: frozenset[int],
        vision: RemoteVision | None = None,
    ) -> None:
        self._pool = pool
        self._gen = gen
        self._request = request
        self._replica: Replica | None = first
        self._hashes = hashes
        self._piece = piece
        self._stop_ids = stop_ids
        self._vision = vision
        self._media: WireMedia | None = None
        self._reset()

    def _reset(self) -> None:
        """State of one attempt (a retry starts clean: nothing was handed out)."""
        self._text = TextStream(self._request.stop)
        self._generated: list[int] = []
        self._count = 0
        self._orphans = False
        self._cached = 0
        self._worker_prompt: int | None = None
        self._reason: FinishReason | None = None

    @property
    def _emitted(self) -> bool:
        return self._count > 0

    async def run(self) -> None:
        self._gen.attach(asyncio.current_task())
        try:
            if self._gen.cancel_requested:
                raise asyncio.CancelledError
            media = self._request.media
            if media is not None:
                if self._vision is None:
                    raise WorkerFailed("this model's workers take no images")
                self._media = await asyncio.to_thread(
                    self._vision.wire, self._request.prompt_tokens, media
                )
            await self._attempts()
        except asyncio.CancelledError:
            self._finish("cancelled")
        except Exception as exc:  # a bug here must still end the generation
            log.exception("remote generation failed")
            self._fail(WorkerFailed(f"{type(exc).__name__}: {exc}"))

    async def _attempts(self) -> None:
        tried: list[Replica] = []
        while self._replica is not None:
            replica = self._replica
            self._gen.worker = replica.spec.base_url
            try:
                await self._stream(replica)
            except WorkerError as exc:
                self._replica = None
                self._pool.failed(replica, exc, self._count)
                tried.append(replica)
                if self._emitted or not exc.retryable or len(tried) > 1:
                    self._fail(exc)
                    return
                log.info(
                    "worker %s failed before the first token (%s); retrying", replica.spec.url, exc
                )
                self._replica = self._pool.retake(self._hashes, tried)
                if self._replica is None:
                    self._fail(exc)
                    return
                self._reset()
                continue
            self._finish(self._reason or "stop")
            return

    async def _stream(self, replica: Replica) -> None:
        adapter = replica.adapter
        prompt = len(self._request.prompt_tokens)
        body = adapter.body(self._request, self._stop_ids, replica.spec.model, self._media)
        reader = adapter.reader(prompt, self._piece)
        client = replica.open()
        try:
            async with client.stream("POST", adapter.endpoint(self._media), json=body) as response:
                if response.status_code != 200:
                    raise http_error(response.status_code, await response.aread(), prompt)
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, ":" keep-alives
                    payload = line[5:].strip()
                    if payload == "[DONE]":
                        break
                    if self._take(reader.feed(_json(payload))):
                        break
        except asyncio.CancelledError:
            _abort(replica, adapter.abort(body))
            raise
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise WorkerUnreachable(f"{replica.spec.url} is unreachable: {exc}") from None
        except (httpx.HTTPError, WorkerError) as exc:
            if self._reason is not None:
                return  # the generation had ended; only its usage was still to come
            if isinstance(exc, WorkerError):
                raise
            raise WorkerFailed(f"{replica.spec.url}: {type(exc).__name__}: {exc}") from None
        if self._reason is None:
            raise WorkerFailed(f"{replica.spec.url} ended the stream before the generation ended")

    def _take(self, event: Event) -> bool:
        """Hand out what the event adds; True when the stream need not be read further."""
        if event.cached_tokens is not None:
            self._cached = event.cached_tokens
        if event.prompt_tokens is not None and self._media is not None:
            self._worker_prompt = event.prompt_tokens
        if self._reason is not None:  # draining for the usage: new tokens end it
            return event.done or bool(event.tokens) or event.orphan_count > 0
        out: list[TokenOut] = []
        if event.orphan_count:
            self._orphans = True
            self._count += event.orphan_count
            out.append(TokenOut(-1, self._text.push(event.orphan)))
            self._check_end()
        for token in event.tokens:
            if self._reason is not None:
                break
            self._count += 1
            self._generated.append(token)
            if token in self._stop_ids:
                self._reason = "stop"
                break
            out.append(TokenOut(token, self._text.push(self._piece(token))))
            self._check_end()
        if self._reason is None and event.finish is not None:
            self._reason = event.finish
        self._gen.post(out)
        return event.done

    def _check_end(self) -> None:
        if self._text.stopped:
            self._reason = "stop"
        elif self._count >= self._request.max_tokens:
            self._reason = "length"

    def _usage(self) -> Usage:
        """With images, the prompt is the worker's count of the expanded prompt (the
        gateway's count by the processor rule until the worker has said)."""
        prompt = self._worker_prompt
        return Usage(
            len(self._request.prompt_tokens) if prompt is None else prompt,
            self._cached,
            self._count,
        )

    def _finish(self, reason: FinishReason) -> None:
        if reason in ("stop", "length"):
            rest = self._text.flush()
            if rest:
                self._gen.post([TokenOut(-1, rest)])
        usage = self._usage()
        if self._replica is not None:
            hashes = (
                []
                if self._orphans
                else self._pool.extend(self._hashes, self._request.prompt_tokens, self._generated)
            )
            outcome = ReplicaOutcome(
                hashes,
                usage.prompt_tokens,
                usage.cached_tokens,
                usage.completion_tokens,
                cancelled=reason == "cancelled",
            )
            self._pool.done(self._replica, outcome)
            self._replica = None
        else:
            self._pool.ended_without_worker(reason == "cancelled")
        self._gen.end(reason, usage)

    def _fail(self, exc: WorkerError) -> None:
        if self._replica is not None:
            self._pool.failed(self._replica, exc, self._count)
            self._replica = None
        rejection: Exception | None = None
        if not self._emitted:
            if isinstance(exc, ContextExceeded):
                rejection = exc
            elif isinstance(exc, WorkerOverloaded):
                rejection = EngineBusy(str(exc))
        self._pool.ended_without_worker(False)
        self._gen.end("error", self._usage(), str(exc), rejection)


_aborts: set[asyncio.Task[None]] = set()


def _abort(replica: Replica, call: tuple[str, dict[str, Any]] | None) -> None:
    """Send the adapter's abort call, without waiting for it (best effort: the closed
    stream aborts the request on the worker too)."""
    if call is None or replica.client is None:
        return
    path, body = call
    client = replica.client

    async def send() -> None:
        try:
            await client.post(path, json=body, timeout=5.0)
        except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: the client closed
            log.info("abort on %s failed: %s", replica.spec.url, exc)

    task = asyncio.get_running_loop().create_task(send())
    _aborts.add(task)
    task.add_done_callback(_aborts.discard)


def _json(payload: str) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except ValueError:
        raise WorkerFailed(f"unreadable event from the worker: {payload[:200]!r}") from None
    if not isinstance(data, dict):
        raise WorkerFailed(f"unexpected event from the worker: {payload[:200]!r}")
    return data
