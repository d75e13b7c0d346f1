"""The model family of a catalog entry (``ModelSpec.family``): GLM-4.5, GLM-4.7, Gemma's
transcript, or a generic model. Every family implements ``family.Family``."""

from __future__ import annotations

from glmserve.chat.family import Family, PlainFamily
from glmserve.chat.glm_family import GLM45, GLM47

__all__ = ["FAMILIES", "family_for"]

FAMILIES: dict[str, Family] = {
    f.name: f for f in (GLM45, GLM47, PlainFamily("gemma"), PlainFamily("generic"))
}


def family_for(name: str) -> Family:
    """The family called ``name``; the config and the catalog only name these."""
    return FAMILIES[name]
