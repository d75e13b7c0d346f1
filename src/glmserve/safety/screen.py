"""The safety policy: which back ends look at the input, which at the output.

``[safety]`` names a keyword list and a guard model and, for each, the side it runs
on ("input", "output" or "both"). The input is the conversation's user and assistant
turns; the output is the text the model writes (reasoning and content), followed as it
grows by an ``OutputScreen``: the keyword list after every piece (it is cheap), the
guard model every ``guard_every_chars`` new characters and once at the end.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from glmserve.safety.guard import GuardModel
from glmserve.safety.keywords import KeywordList
from glmserve.safety.verdict import SAFE, Verdict

__all__ = ["Conversation", "OutputScreen", "SafetyPolicy", "Side", "Turn"]

Side = Literal["input", "output", "both"]
Turn = tuple[str, str]
"""(role, text)."""
Conversation = Sequence[Turn]

_SCREENED_ROLES = ("user", "assistant")


class SafetyPolicy:
    def __init__(
        self,
        keywords: KeywordList | None = None,
        guard: GuardModel | None = None,
        *,
        keywords_on: Side = "both",
        guard_on: Side = "both",
        guard_every_chars: int = 400,
    ) -> None:
        self.keywords = keywords if keywords else None
        self.guard = guard
        self._keywords_on = keywords_on
        self._guard_on = guard_on
        self.guard_every_chars = guard_every_chars

    @property
    def active(self) -> bool:
        return self.keywords is not None or self.guard is not None

    def keywords_for(self, side: Literal["input", "output"]) -> KeywordList | None:
        return self.keywords if self._keywords_on in (side, "both") else None

    def guard_for(self, side: Literal["input", "output"]) -> GuardModel | None:
        return self.guard if self._guard_on in (side, "both") else None

    async def check_input(self, conversation: Conversation) -> Verdict:
        turns = [(r, t) for r, t in conversation if r in _SCREENED_ROLES and t]
        if not turns:
            return SAFE
        verdict = SAFE
        keywords = self.keywords_for("input")
        if keywords is not None:
            verdict = keywords.check("\n".join(t for r, t in turns if r == "user"))
        guard = self.guard_for("input")
        if guard is not None and not verdict.blocked:
            verdict = verdict | await guard.check(turns)
        return verdict

    async def check_text(self, text: str) -> Verdict:
        """One text on its own, every back end (``/moderations``)."""
        verdict = self.keywords.check(text) if self.keywords is not None else SAFE
        if self.guard is not None and not verdict.blocked:
            verdict = verdict | await self.guard.check([("user", text)])
        return verdict

    def output_screen(self, conversation: Conversation) -> OutputScreen | None:
        keywords, guard = self.keywords_for("output"), self.guard_for("output")
        if keywords is None and guard is None:
            return None
        turns = [(r, t) for r, t in conversation if r in _SCREENED_ROLES and t]
        return OutputScreen(keywords, guard, turns, self.guard_every_chars)


class OutputScreen:
    """Follows one completion's output; ``verdict`` holds what was found so far."""

    def __init__(
        self,
        keywords: KeywordList | None,
        guard: GuardModel | None,
        turns: list[Turn],
        every: int,
    ) -> None:
        self._keywords = keywords
        self._guard = guard
        self._turns = turns
        self._every = every
        self._text = ""
        self._keyword_checked = 0
        self._guard_checked = 0
        self.verdict = SAFE

    async def feed(self, piece: str) -> Verdict:
        """The output grew by ``piece``; the verdict on all of it so far."""
        self._text += piece
        if self._keywords is not None:
            self.verdict |= self._keywords.check_tail(self._text, self._keyword_checked)
            self._keyword_checked = len(self._text)
        if len(self._text) - self._guard_checked >= self._every:
            await self._ask_guard()
        return self.verdict

    async def finish(self) -> Verdict:
        """The output is complete: the guard sees what it has not seen yet."""
        if len(self._text) > self._guard_checked:
            await self._ask_guard()
        return self.verdict

    async def _ask_guard(self) -> None:
        if self._guard is None or self.verdict.blocked:
            return
        self._guard_checked = len(self._text)
        turns = [*self._turns, ("assistant", self._text)]
        self.verdict |= await self._guard.check(turns)
