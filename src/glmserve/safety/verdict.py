"""A safety verdict, and reading one out of a guard model's reply.

Guard models answer in a few shapes, all "safe or not, then categories":

- Llama Guard: ``safe``, or ``unsafe`` and on the next line ``S1,S10``;
- Qwen3Guard: ``Safety: Safe|Unsafe|Controversial`` then ``Categories: Violent, ...``;
- ShieldGemma and prompts written for yes/no: ``Yes`` (it violates) or ``No``.

Levels follow Z.AI's ``content_filter`` (0 is the most severe, docs/safety.md): a
blocking verdict is level 0; "Controversial" is flagged at level 2 and not blocked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "BLOCKED_LEVEL",
    "FLAGGED_LEVEL",
    "SAFE",
    "UnreadableReply",
    "Verdict",
    "parse_guard_reply",
]

BLOCKED_LEVEL = 0
FLAGGED_LEVEL = 2


@dataclass(frozen=True)
class Verdict:
    flagged: bool = False
    """Something was found (reported in ``content_filter``)."""
    blocked: bool = False
    """It must not be answered or sent on (1301, finish_reason "sensitive")."""
    categories: tuple[str, ...] = ()
    """What the back end named: a guard model's categories, or the keywords found."""

    @property
    def level(self) -> int:
        return BLOCKED_LEVEL if self.blocked else FLAGGED_LEVEL

    def __or__(self, other: Verdict) -> Verdict:
        """Both verdicts together: the stricter decision, every category."""
        names = self.categories + tuple(c for c in other.categories if c not in self.categories)
        return Verdict(self.flagged or other.flagged, self.blocked or other.blocked, names)


SAFE = Verdict()

_QWEN = re.compile(r"safety\s*:\s*(safe|unsafe|controversial)", re.IGNORECASE)
_QWEN_CATEGORIES = re.compile(r"categories\s*:\s*(.*)", re.IGNORECASE)


class UnreadableReply(ValueError):
    """The guard model's reply is in none of the known shapes."""


def parse_guard_reply(reply: str) -> Verdict:
    """The verdict in a guard model's reply; raises ``UnreadableReply`` for anything
    else (a guard that cannot be read must not pass content as safe)."""
    text = _strip_thinking(reply).strip()
    qwen = _QWEN.search(text)
    if qwen is not None:
        label = qwen.group(1).lower()
        found = _QWEN_CATEGORIES.search(text)
        names = _names(found.group(1)) if found else ()
        names = tuple(n for n in names if n.lower() != "none")
        if label == "safe":
            return SAFE
        return Verdict(flagged=True, blocked=label == "unsafe", categories=names)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise UnreadableReply("the guard model answered nothing")
    first = lines[0].lower().rstrip(".")
    if first in ("safe", "no"):
        return SAFE
    if first in ("unsafe", "yes"):
        names = _names(lines[1]) if len(lines) > 1 else ()
        return Verdict(flagged=True, blocked=True, categories=names)
    raise UnreadableReply(f"the guard model's reply starts with {lines[0][:60]!r}")


def _names(line: str) -> tuple[str, ...]:
    return tuple(n.strip() for n in line.split(",") if n.strip())


def _strip_thinking(reply: str) -> str:
    """Guard models built on thinking models may write a reasoning block first."""
    _, closed, after = reply.rpartition("</think>")
    return after if closed else reply
