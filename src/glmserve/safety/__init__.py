"""Content safety: is this text safe to take in or to send out (docs/safety.md).

A lower layer, like ``engine/``: it knows text and verdicts, not HTTP, keys or the
pipeline. Two back ends answer the same question:

- ``keywords.py``: a keyword list, matched case-insensitively anywhere in the text;
- ``guard.py``: a guard model (Llama Guard, Qwen3Guard, ShieldGemma style) served like
  any chat model; it is asked through a function the serving layer passes in and its
  reply ("safe" / "unsafe" plus categories) is read by ``verdict.py``.

``screen.py`` combines them by side (input, output or both) into a ``SafetyPolicy``;
a running completion follows its output with an ``OutputScreen``.
"""

from glmserve.safety.guard import Generate, GuardModel
from glmserve.safety.keywords import KeywordList
from glmserve.safety.screen import Conversation, OutputScreen, SafetyPolicy, Side, Turn
from glmserve.safety.verdict import SAFE, Verdict, parse_guard_reply

__all__ = [
    "Conversation",
    "Generate",
    "GuardModel",
    "KeywordList",
    "OutputScreen",
    "SAFE",
    "SafetyPolicy",
    "Side",
    "Turn",
    "Verdict",
    "parse_guard_reply",
]
