"""Content-safety settings: ``[safety]`` in the config file (docs/safety.md).

Nothing is checked by default. ``keywords`` turns on the keyword back end,
``guard_model`` (the code of a served chat model) the guard-model back end; each runs
on the input, the output or both (``keywords_on``, ``guard_on``). ``/moderations``
answers with the same back ends and is billed ``moderation_price`` USD per call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["SafetyFile", "SafetySettings"]

Side = Literal["input", "output", "both"]


@dataclass(frozen=True)
class SafetySettings:
    keywords: tuple[str, ...] = ()
    keywords_on: Side = "both"
    guard_model: str | None = None
    """A served chat model's code: the guard (Llama Guard, Qwen3Guard, ...)."""
    guard_on: Side = "both"
    guard_prompt: str | None = None
    """A prompt holding ``{conversation}``; unset: the conversation goes to the guard
    as chat messages and its own chat template frames it."""
    guard_every_chars: int = 400
    """A stream's output goes to the guard each time it has grown by this much."""
    guard_max_chars: int = 8000
    """The guard sees at most the conversation's last this many characters."""
    guard_max_tokens: int = 64
    moderation_price: float = 0.0
    """USD per ``/moderations`` call."""

    @property
    def active(self) -> bool:
        return bool(self.keywords) or self.guard_model is not None


class SafetyFile(BaseModel):
    """``[safety]``: see SafetySettings."""

    model_config = ConfigDict(extra="forbid", strict=True)

    keywords: list[str] = Field(default_factory=list, max_length=100_000)
    keywords_on: Side = "both"
    guard_model: str | None = Field(default=None, min_length=1)
    guard_on: Side = "both"
    guard_prompt: str | None = None
    guard_every_chars: int = Field(default=400, ge=1, le=1_000_000)
    guard_max_chars: int = Field(default=8000, ge=100, le=10_000_000)
    guard_max_tokens: int = Field(default=64, ge=1, le=4096)
    moderation_price: float = Field(default=0.0, ge=0, le=1000)

    @field_validator("keywords")
    @classmethod
    def _no_blank(cls, value: list[str]) -> list[str]:
        if any(not w.strip() for w in value):
            raise ValueError("keywords must not be blank")
        return value

    @field_validator("guard_prompt")
    @classmethod
    def _placeholder(cls, value: str | None) -> str | None:
        if value is not None and "{conversation}" not in value:
            raise ValueError("guard_prompt must hold {conversation}")
        return value

    def settings(self, served: list[str]) -> SafetySettings:
        if self.guard_model is not None and self.guard_model not in served:
            raise ValueError(
                f"[safety] guard_model {self.guard_model!r} is not a served chat model "
                f"(served: {', '.join(served)})"
            )
        values = self.model_dump()
        values["keywords"] = tuple(self.keywords)
        return SafetySettings(**values)
