"""The keyword back end: a list of words or phrases, found case-insensitively anywhere
in the text (a deployment's simple block list, ``[safety] keywords``)."""

from __future__ import annotations

from collections.abc import Sequence

from glmserve.safety.verdict import SAFE, Verdict

__all__ = ["KeywordList"]


class KeywordList:
    def __init__(self, words: Sequence[str]) -> None:
        self.words = tuple(dict.fromkeys(w.casefold() for w in words if w.strip()))
        self.longest = max((len(w) for w in self.words), default=0)

    def __bool__(self) -> bool:
        return bool(self.words)

    def check(self, text: str) -> Verdict:
        lowered = text.casefold()
        found = tuple(w for w in self.words if w in lowered)
        return Verdict(flagged=True, blocked=True, categories=found) if found else SAFE

    def check_tail(self, text: str, checked: int) -> Verdict:
        """``text`` grown from a prefix of ``checked`` characters already found clean:
        only what a new match can touch is searched (a stream calls this per token)."""
        start = max(0, checked - self.longest + 1)
        return self.check(text[start:])
