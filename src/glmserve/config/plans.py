"""GLM Coding Plan settings: ``[[plans]]`` and ``[plan_counting]`` (docs/plans.md).

A plan gives a key prompt quotas per rolling 5-hour window and per rolling week on the
surfaces coding tools call (``/api/coding/paas/v4`` and ``/api/anthropic`` unless
``[plan_counting] surfaces`` says otherwise), the models it includes, and multipliers:
a prompt on some models counts several times, more at peak hours. Without
``[[plans]]`` the three plans of Z.AI's Coding Plan pages are defined (lite, pro, max);
``[[plans]]`` entries replace them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "DEFAULT_PLANS",
    "Multiplier",
    "Plan",
    "PlanCountingFile",
    "PlanFile",
    "PlanSettings",
    "Surface",
    "plan_settings",
]

Surface = Literal["paas", "coding", "anthropic", "openai"]
"""Where a request came: /api/paas/v4, /api/coding/paas/v4, /api/anthropic, /v1."""

_COUNTED: tuple[Surface, ...] = ("coding", "anthropic")
_HOURS = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
_OFFSET = re.compile(r"^[+-]([01]\d|2[0-3]):([0-5]\d)$")


@dataclass(frozen=True)
class Multiplier:
    """A prompt on one of ``models`` counts ``peak`` prompts in the peak hours (local
    time at ``utc_offset_minutes``), ``off_peak`` at other times."""

    models: tuple[str, ...]
    peak: int
    off_peak: int
    peak_start_minute: int
    """Minutes after local midnight."""
    peak_end_minute: int
    utc_offset_minutes: int

    def factor(self, now: float) -> int:
        local = (int(now) // 60 + self.utc_offset_minutes) % (24 * 60)
        start, end = self.peak_start_minute, self.peak_end_minute
        peak = start <= local < end if start <= end else (local >= start or local < end)
        return self.peak if peak else self.off_peak


@dataclass(frozen=True)
class Plan:
    name: str
    prompts_per_5h: int
    """0: no 5-hour quota."""
    prompts_per_week: int
    """0: no weekly quota."""
    models: tuple[str, ...] = ()
    """The model codes the plan includes; empty: every served model."""
    multipliers: tuple[Multiplier, ...] = ()

    def includes(self, model: str) -> bool:
        return not self.models or model in self.models

    def units(self, model: str, now: float) -> int:
        """How many prompts one prompt on ``model`` counts at ``now``."""
        for multiplier in self.multipliers:
            if model in multiplier.models:
                return multiplier.factor(now)
        return 1


@dataclass(frozen=True)
class PlanSettings:
    plans: tuple[Plan, ...]
    surfaces: tuple[Surface, ...] = _COUNTED

    def get(self, name: str) -> Plan | None:
        return next((p for p in self.plans if p.name == name), None)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.plans)


# Z.AI's Coding Plan pages: Lite about 80 prompts per 5 hours and 400 a week, Pro 400 and
# 2,000, Max 1,600 and 8,000; GLM-5.1 and GLM-5-Turbo count 3x at peak (14:00-18:00,
# UTC+8) and 2x off-peak (docs/plans.md).
_TOP_MODELS = Multiplier(("glm-5.1", "glm-5-turbo"), 3, 2, 14 * 60, 18 * 60, 8 * 60)
DEFAULT_PLANS = PlanSettings(
    plans=(
        Plan("lite", 80, 400, multipliers=(_TOP_MODELS,)),
        Plan("pro", 400, 2000, multipliers=(_TOP_MODELS,)),
        Plan("max", 1600, 8000, multipliers=(_TOP_MODELS,)),
    )
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _MultiplierFile(_Strict):
    models: list[str] = Field(min_length=1)
    peak: int = Field(ge=1, le=1000)
    off_peak: int = Field(ge=1, le=1000)
    peak_hours: str = "14:00-18:00"
    utc_offset: str = "+08:00"

    @field_validator("peak_hours")
    @classmethod
    def _hours(cls, value: str) -> str:
        if not _HOURS.match(value):
            raise ValueError("peak_hours must be 'HH:MM-HH:MM', e.g. '14:00-18:00'")
        return value

    @field_validator("utc_offset")
    @classmethod
    def _offset(cls, value: str) -> str:
        if not _OFFSET.match(value):
            raise ValueError("utc_offset must be '+HH:MM' or '-HH:MM', e.g. '+08:00'")
        return value

    def multiplier(self) -> Multiplier:
        match = _HOURS.match(self.peak_hours)
        assert match is not None
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        sign = -1 if self.utc_offset.startswith("-") else 1
        oh, om = (int(p) for p in self.utc_offset[1:].split(":"))
        return Multiplier(
            tuple(self.models),
            self.peak,
            self.off_peak,
            h1 * 60 + m1,
            h2 * 60 + m2,
            sign * (oh * 60 + om),
        )


class PlanFile(_Strict):
    """One ``[[plans]]`` entry."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    prompts_per_5h: int = Field(ge=0, le=10_000_000)
    prompts_per_week: int = Field(default=0, ge=0, le=100_000_000)
    models: list[str] = Field(default_factory=list)
    multipliers: list[_MultiplierFile] = Field(default_factory=list)

    def plan(self) -> Plan:
        return Plan(
            self.name,
            self.prompts_per_5h,
            self.prompts_per_week,
            tuple(self.models),
            tuple(m.multiplier() for m in self.multipliers),
        )


class PlanCountingFile(_Strict):
    """``[plan_counting]``: the surfaces where plan keys' prompts are counted."""

    surfaces: list[Surface] = Field(default_factory=lambda: list(_COUNTED))


def plan_settings(plans: list[PlanFile], counting: PlanCountingFile) -> PlanSettings:
    names = [p.name for p in plans]
    if len(set(names)) != len(names):
        raise ValueError("[[plans]] names must be distinct")
    chosen = tuple(p.plan() for p in plans) if plans else DEFAULT_PLANS.plans
    return PlanSettings(chosen, tuple(dict.fromkeys(counting.surfaces)))
