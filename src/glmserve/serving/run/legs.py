"""One completion's generation in one or more legs on the engine.

The serving layer steers a generation without any engine support beyond what every
engine has (a token-ID prompt, a grammar, cancel): to close the thinking block at a
budget, or to put a grammar on a tool call the model opened by itself, it stops the
running leg and starts the next one from the original prompt, every token generated
so far and the tokens it inserts. The prefix cache makes the new leg's prompt cheap:
all of it but the inserted tokens was computed already. To the client it is one
generation: one token stream, one finish reason, one usage (docs/glm-format.md,
"Steering a generation").
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace

from glmserve.engine.types import (
    Engine,
    EngineBusy,
    FinishReason,
    Generation,
    GenerationRequest,
    TokenOut,
    Usage,
)

__all__ = ["Legs"]


class Legs:
    """The legs of one generation; iterate ``tokens()`` once."""

    def __init__(
        self,
        engine: Engine,
        request: GenerationRequest,
        *,
        inserted: Sequence[int] = (),
        grammar: str | None = None,
    ) -> None:
        """Start the first leg (raises EngineBusy as ``engine.start`` does); with
        ``inserted``, the output begins with those tokens, under ``grammar``."""
        self._engine = engine
        self._request = request
        self._output: list[int] = list(inserted)  # after the prompt: generated and inserted
        first = request
        if inserted:
            first = replace(
                request,
                prompt_tokens=[*request.prompt_tokens, *inserted],
                max_tokens=request.max_tokens - len(inserted),
                sampling=replace(request.sampling, grammar=grammar),
            )
        self._first = self._leg = engine.start(first)
        self._leg_prompt = len(first.prompt_tokens)
        self._stopped = False
        self._refused: str | None = None

    @property
    def output_tokens(self) -> int:
        """Tokens of output so far (generated and inserted)."""
        return len(self._output)

    @property
    def remaining(self) -> int:
        """What is left of the request's max_tokens."""
        return self._request.max_tokens - len(self._output)

    async def tokens(self) -> AsyncIterator[TokenOut]:
        """Each generated token, leg after leg, until the last leg ends."""
        while True:
            leg = self._leg
            async for token in leg:
                self._output.append(token.token_id)
                yield token
                if leg is not self._leg or self._stopped:
                    break
            if leg is self._leg or self._stopped:
                return

    async def switch(self, inserted: Sequence[int], grammar: str | None) -> bool:
        """End the running leg where the consumer stands and go on from its output
        plus ``inserted``, under ``grammar``. False, and nothing changes, when that
        leaves no room in max_tokens (the running leg goes on)."""
        room = self.remaining - len(inserted)
        if room <= 0:
            return False
        old = self._leg
        old.cancel()
        if old.finish_reason is None:
            async for _ in old:  # its end marker is at most a token or two away
                pass
        self._output.extend(inserted)
        prompt = [*self._request.prompt_tokens, *self._output]
        request = replace(
            self._request,
            prompt_tokens=prompt,
            max_tokens=room,
            sampling=replace(self._request.sampling, grammar=grammar),
        )
        try:
            self._leg = self._engine.start(request)
        except EngineBusy:
            self._refused = "the engine's queue was full when the generation went on"
            self._stopped = True
            return True
        self._leg_prompt = len(prompt)
        return True

    @property
    def stopped(self) -> bool:
        """``stop`` ended the generation (or a new leg could not start)."""
        return self._stopped

    def stop(self) -> None:
        """End the generation here: what was generated is the whole output."""
        self._stopped = True
        self._leg.cancel()

    def cancel(self) -> None:
        self._leg.cancel()

    async def wait_finished(self) -> None:
        if self._leg.finish_reason is None:
            async for _ in self._leg:
                pass

    @property
    def finish_reason(self) -> FinishReason | None:
        if self._refused is not None:
            return "error"
        reason = self._leg.finish_reason
        if self._stopped and reason == "cancelled":
            return "stop"  # we ended it, on purpose
        return reason

    @property
    def error(self) -> str | None:
        return self._refused or self._leg.error

    @property
    def usage(self) -> Usage:
        """The original prompt (cached tokens as the first leg found them) and every
        output token: generated in any leg, or inserted."""
        prompt = len(self._request.prompt_tokens)
        first = self._first.usage
        leg = self._leg.usage
        if self._leg_prompt == prompt:
            return leg  # one leg as asked: the engine's own count
        earlier = self._leg_prompt - prompt  # output before the running leg began
        return Usage(
            prompt_tokens=prompt,
            cached_tokens=min(first.cached_tokens, prompt),
            completion_tokens=earlier + leg.completion_tokens,
        )

    @property
    def generation(self) -> Generation:
        """The running leg."""
        return self._leg
