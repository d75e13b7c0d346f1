"""Admission and metering: a request takes a slot before it runs, and leaves exactly one
ledger record when it ends, for whatever reason.

``Attempt`` follows one HTTP request. ``Attempt.admit`` checks the balance and takes a
slot from the limiter; ``Attempt.track`` follows the work once the serving layer has
started it (anything ``Metered``: a completion); ``Attempt.close`` (called once the
response is over: sent, failed, or abandoned by the client) cancels what still runs,
waits for the engine to let go so usage is final, writes the record and frees the slot.
That settling runs as a task the ``Admission`` keeps, so a graceful shutdown waits for
every record. The platform knows nothing of engines or prompts: only these facts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any, Literal, Protocol

from glmserve.catalog import Price
from glmserve.config import LimitSettings
from glmserve.errors import BalanceExhausted, ClientGone, GlmServeError, PolicyBlocked
from glmserve.platform.auth import Principal
from glmserve.platform.ids import completion_id
from glmserve.platform.limits import Limiter, Reservation
from glmserve.platform.plans import Plans
from glmserve.platform.usage import (
    Ledger,
    Outcome,
    ReasoningCounts,
    TokenCounts,
    cost_nano,
    today,
)
from glmserve.store import UsageRecord

__all__ = ["Admission", "Admitted", "Attempt", "AttemptKind", "Metered"]


AttemptKind = Literal["chat", "async", "embeddings", "moderate", "tools", "image", "video"]
"""What a request is, as the ledger's ``kind`` says (a streamed chat becomes "stream")."""


@dataclass(frozen=True)
class Admitted:
    """What admission and the ledger know of a request about to run."""

    record_id: str
    model: str
    request_id: str
    client_request_id: str | None
    """The request_id the client chose (only those can collide); None for ours."""
    stream: bool
    price: Price | None
    user_id: str | None = None
    new_prompt: bool = True
    """A new user turn, not a tool loop's follow-up: what a Coding Plan counts."""


class Metered(Protocol):
    """Work the ledger follows to its end (a running completion)."""

    @property
    def finished(self) -> bool: ...

    @property
    def failed(self) -> bool: ...

    @property
    def cancelled(self) -> bool: ...

    @property
    def finish_reason(self) -> str: ...

    @property
    def usage(self) -> TokenCounts: ...

    def cancel(self) -> None: ...

    async def wait_finished(self) -> None: ...


class _NoUsage:
    prompt_tokens = cached_tokens = completion_tokens = 0


log = logging.getLogger(__name__)

# Bounded wait for a cancelled generation to stop; it takes one decode step normally.
_SETTLE_TIMEOUT = 120.0


class Admission:
    def __init__(
        self,
        limiter: Limiter,
        limits: LimitSettings,
        ledger: Ledger,
        plans: Plans | None = None,
    ) -> None:
        self.limiter = limiter
        self.limits = limits
        self.ledger = ledger
        self.plans = plans
        self._held: dict[str, Reservation] = {}
        self._pending: set[asyncio.Task[None]] = set()
        self._renewer: asyncio.Task[None] | None = None

    def attempt(self, caller: Principal, kind: AttemptKind = "chat") -> Attempt:
        return Attempt(self, caller, kind)

    async def reserve(
        self, caller: Principal, model: str, request_id: str | None, *, count: bool = True
    ) -> Reservation | None:
        """Balance and limits (``count`` false: a slot without counting the request
        against the per-minute and per-day limits, which counted it already)."""
        if not caller.limited:
            return None  # open mode: nobody to limit or bill
        if caller.balance_nano is not None and caller.balance_nano <= 0:
            raise BalanceExhausted()
        limits = self.limits.for_key(caller.tier, model)
        reservation = await self.limiter.reserve(
            caller.key_id, model, request_id, limits, count=count
        )
        self._held[reservation.lease] = reservation
        return reservation

    async def count(self, caller: Principal, model: str) -> None:
        """Count a request now against the key's balance and its per-minute and per-day
        limits (raises 1113, 1303 or 1304, as a synchronous request would be refused),
        without holding a slot: an async task is counted when it is submitted and takes
        its concurrency slot when it runs (``Attempt.admit`` with ``counted``)."""
        if not caller.limited:
            return
        if caller.balance_nano is not None and caller.balance_nano <= 0:
            raise BalanceExhausted()
        tier = self.limits.for_key(caller.tier, model)
        counted = replace(tier, concurrency=0)
        reservation = await self.limiter.reserve(caller.key_id, model, None, counted)
        await self.limiter.release(reservation)

    @contextlib.asynccontextmanager
    async def hold(
        self, caller: Principal, what: str, *, apart: bool = False
    ) -> AsyncIterator[None]:
        """A request nothing is billed for (the tokenizer, files and batches): counted
        against the key's per-minute and per-day limits, and holding one of its
        concurrency slots for ``what`` while it runs (1302-1304 as for a completion).
        ``apart``: counted apart from the key's model requests (the tier's limits, but
        counters of their own), so polling a batch uses up no chat quota."""
        if not caller.limited:
            yield
            return
        limits = self.limits.for_key(caller.tier, what)
        key = f"{caller.key_id}/{what}" if apart else caller.key_id
        reservation = await self.limiter.reserve(key, what, None, limits)
        self._held[reservation.lease] = reservation
        try:
            yield
        finally:
            await self.release(reservation)

    async def release(self, reservation: Reservation) -> None:
        self._held.pop(reservation.lease, None)
        await self.limiter.release(reservation)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` to its end even if the request that started it is gone."""
        task = asyncio.get_running_loop().create_task(work)
        self._pending.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("settling a request failed", exc_info=task.exception())

    async def start(self) -> None:
        self._renewer = asyncio.get_running_loop().create_task(self._renew_forever())

    async def drain(self) -> None:
        """Wait until every ended request has its record written and its slot freed."""
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def stop(self) -> None:
        await self.drain()
        if self._renewer is not None:
            self._renewer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewer
        await self.limiter.close()
        if self.plans is not None:
            await self.plans.counter.close()

    async def _renew_forever(self) -> None:
        every = max(self.limits.lease_seconds / 3, 0.5)
        while True:
            await asyncio.sleep(every)
            try:
                await self.limiter.renew(list(self._held.values()))
            except Exception:  # Redis away for a moment: try again next round
                log.warning("renewing admission leases failed", exc_info=True)


class Attempt:
    """One request through admission, and the one ledger record it leaves."""

    def __init__(
        self,
        admission: Admission,
        caller: Principal,
        kind: AttemptKind,
    ) -> None:
        self._admission = admission
        self.caller = caller
        self.kind = kind
        self.model = ""
        self.request_id = ""
        self.surface = ""
        """Where the request came (config.plans.Surface): where plans count prompts."""
        self.record_id = completion_id()
        self.admitted: Admitted | None = None
        self.completion: Metered | None = None
        self._reservation: Reservation | None = None
        self.balance_now: Callable[[], int | None] | None = None
        """Reads the key's balance (blocking): set for work that waited in a queue, whose
        caller's balance is checked again once the slot is taken, so that it sees what
        the work that held the slot before was charged."""
        self.counted = False
        """Counted against the per-minute and per-day limits already (an async task,
        counted on submission): ``admit`` only takes the concurrency slot."""
        self._started = time.monotonic()
        self._closed = False

    def sibling(self, kind: Literal["chat", "async", "embeddings", "tools"]) -> Attempt:
        """Another attempt for the same caller: work a request runs on the side (a web
        search inside a chat) gets its own record; the caller closes it."""
        return Attempt(self._admission, self.caller, kind)

    def describe(self, model: str, request_id: str | None) -> None:
        self.model = model
        self.request_id = request_id or ""

    async def admit(self, admitted: Admitted) -> None:
        """Balance and limits; raises the error to answer with (1113, 1302, ...)."""
        self.admitted = admitted
        self.record_id = admitted.record_id
        self.describe(admitted.model, admitted.request_id)
        if (
            admitted.user_id is not None
            and admitted.user_id in self._admission.limits.blocked_user_ids
        ):
            raise PolicyBlocked(f"the end user {admitted.user_id!r} is blocked on this server")
        self._reservation = await self._admission.reserve(
            self.caller, self.model, admitted.client_request_id, count=not self.counted
        )
        if self.balance_now is not None and self._reservation is not None:
            balance = await asyncio.to_thread(self.balance_now)
            if balance is not None and balance <= 0:
                await self._admission.release(self._reservation)
                self._reservation = None
                raise BalanceExhausted()
        plans = self._admission.plans
        if plans is not None:
            try:
                await plans.charge(self.caller, self.model, self.surface, admitted.new_prompt)
            except BaseException:
                if self._reservation is not None:
                    await self._admission.release(self._reservation)
                    self._reservation = None
                raise

    def track(self, work: Metered) -> None:
        """The admitted work has started: its end, usage and outcome go on the record."""
        self.completion = work

    def hand_off(self) -> None:
        """The request's work was handed to the async task queue, whose run writes its
        own record: this attempt (never admitted) leaves none."""
        if self.admitted is None:
            self._closed = True

    def close(self, error: BaseException | None = None) -> None:
        """End the request: idempotent, synchronous (safe in cancelled clean-up code)."""
        if self._closed:
            return
        self._closed = True
        if self.completion is not None and not self.completion.finished:
            self.completion.cancel()
        self._admission.spawn(self._settle(error))

    async def _settle(self, error: BaseException | None) -> None:
        try:
            if self.completion is not None:
                try:
                    await asyncio.wait_for(self.completion.wait_finished(), _SETTLE_TIMEOUT)
                except TimeoutError:
                    log.error("generation %s did not stop; recording what is known", self.model)
            await self._admission.ledger.write(self.record(error))
        finally:
            if self._reservation is not None:
                await self._admission.release(self._reservation)

    def record(self, error: BaseException | None = None) -> UsageRecord:
        completion = self.completion
        usage: TokenCounts = completion.usage if completion is not None else _NoUsage()
        status: Outcome = "success"
        code = ""
        if isinstance(error, ClientGone):  # left while its prompt was prepared
            status = "cancelled"
        elif error is not None:
            status = "error"
            code = error.code if isinstance(error, GlmServeError) else "500"
        elif completion is None:
            status, code = "error", "500"
        elif completion.failed:
            status, code = "error", "1234"
        elif completion.cancelled:
            status = "cancelled"
        admitted = self.admitted
        kind: Literal[
            "chat", "stream", "async", "embeddings", "moderate", "tools", "image", "video"
        ] = self.kind
        if kind == "chat" and admitted is not None and admitted.stream:
            kind = "stream"
        now = time.time()
        return UsageRecord(
            record_id=self.record_id,
            key_id=self.caller.key_id,
            model=self.model or "unknown",
            request_id=self.request_id,
            kind=kind,
            status=status,
            created_at=int(now),
            day=today(now),
            prompt_tokens=usage.prompt_tokens,
            cached_tokens=usage.cached_tokens,
            completion_tokens=usage.completion_tokens,
            finish_reason=completion.finish_reason if completion and completion.finished else "",
            error_code=code,
            latency_ms=int((time.monotonic() - self._started) * 1000),
            cost_nano=cost_nano(admitted.price if admitted else None, usage),
            user_id=admitted.user_id if admitted else None,
            reasoning_tokens=usage.reasoning_tokens if isinstance(usage, ReasoningCounts) else 0,
        )
