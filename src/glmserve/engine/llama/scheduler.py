"""Continuous batching: which tokens of which sequences go into the next llama_decode.

Each step decodes one token for every running sequence that is generating, and fills the
rest of the batch with prompt chunks of sequences still reading their prompt, so a long
prompt is read in pieces between decode steps instead of stalling the running streams.
Waiting sequences are admitted while there are free slots; each slot's KV stream holds a
full context, so a running sequence never runs out of room.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Protocol

from glmserve.engine.llama.native import BatchEntry
from glmserve.engine.llama.slots import Slot, SlotTable
from glmserve.engine.media import MediaTokens
from glmserve.engine.text import TextStream
from glmserve.engine.types import FinishReason, GenerationRequest, TokenOut, Usage

__all__ = ["Sink", "Sequence", "Scheduler", "Step"]

_TURNS_KEPT = 1024


class Sink(Protocol):
    """Where a sequence's tokens and end go (the Generation its caller iterates)."""

    @property
    def cancelled(self) -> bool: ...

    def emit(self, token: TokenOut) -> None: ...

    def finish(self, reason: FinishReason, usage: Usage, error: str | None = None) -> None: ...


@dataclass(eq=False)
class Sequence:
    request: GenerationRequest
    sink: Sink
    tokens: list[int]
    """The prompt, then every generated token already fed to the model."""
    text: TextStream
    slot: Slot | None = None
    computed: int = 0
    """Positions of ``tokens`` whose KV state is in the slot."""
    pending: int | None = None
    """The last sampled token, fed with the next decode step."""
    generated: int = 0
    cached: int = 0
    """Prompt tokens reused from the prefix cache (exact usage)."""
    sampler: object | None = None
    media: MediaTokens | None = None
    """Where the prompt's images are (set by the engine's ImageFeeder, engine/llama/vision.py)."""

    @property
    def prompt_tokens(self) -> int:
        return len(self.request.prompt_tokens)

    @property
    def reading_prompt(self) -> bool:
        return self.computed < len(self.tokens)

    def usage(self) -> Usage:
        return Usage(self.prompt_tokens, self.cached, self.generated)


@dataclass
class Step:
    entries: list[BatchEntry] = field(default_factory=list)
    rows: list[tuple[Sequence, int]] = field(default_factory=list)
    """Sequences to sample after the decode, with their logits row."""
    chunks: list[tuple[Sequence, int, int]] = field(default_factory=list)
    """(sequence, start, end) of the tokens this step feeds, per sequence."""


class Scheduler:
    def __init__(self, slots: SlotTable, *, max_running: int, n_batch: int) -> None:
        self.slots = slots
        self.max_running = max_running
        self.n_batch = n_batch
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.steps = 0
        self._prompt_turn = False
        """Exact mode: whether the next step reads a prompt chunk (steps alternate)."""
        self._admissions = 0
        self._last_turn: dict[str, int] = {}
        """Each tenant's last admission (its number): who had a turn longest ago."""

    def add(self, seq: Sequence) -> None:
        self.waiting.append(seq)

    def has_work(self) -> bool:
        return bool(self.waiting or self.running)

    def admit(self) -> None:
        while self.waiting and len(self.running) < self.max_running:
            seq = self._next()
            got = self.slots.acquire(seq.tokens)
            if got is None:
                return
            self.waiting.remove(seq)
            seq.slot, seq.computed = got
            seq.cached = seq.computed
            self.running.append(seq)
            self._admissions += 1
            self._last_turn[seq.request.tenant] = self._admissions
            if len(self._last_turn) > _TURNS_KEPT:  # forget tenants gone quiet
                present = {s.request.tenant for s in (*self.waiting, *self.running)}
                self._last_turn = {t: n for t, n in self._last_turn.items() if t in present}

    def _next(self) -> Sequence:
        """The waiting sequence to admit next: tenants take turns. Of each tenant only
        its oldest waiting sequence is a candidate; the one chosen is that of the tenant
        with the fewest sequences running, then the one whose last turn is longest ago
        (a tenant new to the queue first). So a tenant with a backlog of N requests
        delays another tenant's request by one of them, not N; one tenant alone is FIFO."""
        running = Counter(s.request.tenant for s in self.running)
        best: Sequence | None = None
        best_rank = (0, 0)
        seen: set[str] = set()
        for seq in self.waiting:
            tenant = seq.request.tenant
            if tenant in seen:
                continue
            seen.add(tenant)
            rank = (running[tenant], self._last_turn.get(tenant, 0))
            if best is None or rank < best_rank:
                best, best_rank = seq, rank
        assert best is not None
        return best

    def plan(self) -> Step:
        """The next batch: one decode token per generating sequence, then prompt chunks
        (in the exact mode: decode steps and one-prompt-chunk steps in turn)."""
        step = Step()
        exact = self.slots.exact
        reading = any(seq.reading_prompt for seq in self.running)
        if not (exact and reading and self._prompt_turn):
            # In slot order: llama.cpp computes a run of consecutive sequence ids in one
            # micro-batch; out of order, every sequence would be a pass of its own.
            for seq in sorted(self.running, key=_slot_id):
                if not seq.reading_prompt and seq.pending is not None:
                    self._feed(step, seq, [seq.pending], seq.computed, logits=True)
        if exact and step.entries:
            # With a KV stream per sequence llama.cpp splits a batch into micro-batches
            # of equal shares of consecutive sequences, so a prompt chunk beside decode
            # tokens would have its first token computed alone (other kernels). In the
            # exact mode decode steps and prompt steps alternate instead.
            self._prompt_turn = True
            return step
        self._prompt_turn = False
        budget = self.n_batch - len(step.entries)
        for seq in self.running:
            if budget <= 0:
                break
            if not seq.reading_prompt:
                continue
            start = seq.computed
            end = min(len(seq.tokens), start + budget)
            if seq.media is not None:  # text only: images are fed by the ImageFeeder
                end = seq.media.text_end(start, end)
                if end == start:
                    continue
            if exact:
                exact_end = self._exact_end(seq, start, end, budget)
                if exact_end is None:
                    continue
                end = exact_end
            last = end == len(seq.tokens)
            self._feed(step, seq, seq.tokens[start:end], start, logits=last and seq.pending is None)
            budget -= end - start
            if exact:
                break  # one prompt chunk a step, for the same reason
        return step

    def _exact_end(self, seq: Sequence, start: int, end: int, budget: int) -> int | None:
        """Where a prompt chunk ends in the exact mode, or None to wait a step: a chunk
        holds at least two tokens (a one-token prompt aside), because attention over a
        single query takes other kernels than over several, and one chunking or another
        must not change a token's arithmetic. With the whole batch free a chunk goes
        ahead regardless, so nothing starves."""
        n = len(seq.tokens)
        exact = end - 1 if n - end == 1 else end  # leave two tokens for the next, not one
        if exact - start >= 2 or n - start < 2:
            return exact
        return end if budget >= self.n_batch else None

    def committed(self, step: Step) -> None:
        """The step was decoded: its tokens are now in the KV cache."""
        for seq, start, end in step.chunks:
            slot = seq.slot
            assert slot is not None
            if seq.reading_prompt:
                fed = seq.tokens[start:end]
                seq.computed = end
            else:  # the decode of the pending token
                assert seq.pending is not None
                fed = [seq.pending]
                seq.tokens.append(seq.pending)
                seq.pending = None
                seq.computed = end
            slot.tokens.extend(fed)

    def finish(self, seq: Sequence, reason: FinishReason, error: str | None = None) -> None:
        if seq in self.running:
            self.running.remove(seq)
        elif seq in self.waiting:
            self.waiting.remove(seq)
        if seq.slot is not None:
            self.slots.release(seq.slot, keep=error is None)
            seq.slot = None
        seq.sink.finish(reason, seq.usage(), error)

    @staticmethod
    def _feed(step: Step, seq: Sequence, tokens: list[int], start: int, *, logits: bool) -> None:
        assert seq.slot is not None
        # After an M-RoPE image positions run below token indices (engine/media.py).
        pos = start - seq.media.shift(start) if seq.media is not None else start
        for i, token in enumerate(tokens):
            want = logits and i == len(tokens) - 1
            if want:
                step.rows.append((seq, len(step.entries)))
            step.entries.append((seq.slot.id, pos + i, token, want))
        step.chunks.append((seq, start, start + len(tokens)))


def _slot_id(seq: Sequence) -> int:
    assert seq.slot is not None
    return seq.slot.id
