"""Choosing a model family's output parser and grammars from the catalog's family name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from glmserve.chat import glm45, glm47
from glmserve.chat.json_call import JsonCallParser
from glmserve.chat.output import OutputParser, PlainParser, TrimmedParser

__all__ = ["GLM_FAMILIES", "glm_family", "parser_for"]

GLM_FAMILIES: dict[str, ModuleType] = {m.FAMILY: m for m in (glm45, glm47)}


def glm_family(family: str) -> ModuleType | None:
    """The GLM format module of a family, or None for models without GLM's format."""
    return GLM_FAMILIES.get(family)


def parser_for(
    family: str,
    *,
    trim: bool = False,
    tools: Sequence[Mapping[str, Any]] | None = None,
    prompt: str = "",
    json_call: bool = False,
) -> OutputParser:
    """The output parser for one completion.

    ``json_call`` says a grammar forces a JSON tool call (models without a native format).
    GLM families are parsed by the GLM format whatever the prompt; since the parser's
    starting mode follows the prompt's end, weights with another template still parse.
    """
    module = glm_family(family)
    if module is not None:
        parser: OutputParser = module.parser(tools, prompt=prompt)
        return parser
    if json_call:
        return JsonCallParser(tools)
    return TrimmedParser() if trim else PlainParser()
