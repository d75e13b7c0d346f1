"""Every family the catalog and the config name implements the one family interface."""

from __future__ import annotations

import typing

import pytest

from glmserve.catalog import BUILTIN_MODELS, generic_spec
from glmserve.chat import glm45, glm47
from glmserve.chat.families import FAMILIES, family_for
from glmserve.chat.glm_family import STOP
from glmserve.chat.json_call import JsonCallParser
from glmserve.chat.output import PlainParser, TrimmedParser
from glmserve.config.file import ModelFile

TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


def test_every_family_name_the_config_accepts_is_a_family() -> None:
    names = typing.get_args(typing.get_args(ModelFile.model_fields["family"].annotation)[0])
    assert set(names) == set(FAMILIES)
    catalog = {spec.family for spec in BUILTIN_MODELS.values()} | {generic_spec("x").family}
    assert catalog <= set(FAMILIES)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_each_family_gives_a_parser_and_both_grammars(name: str) -> None:
    family = family_for(name)
    assert family.name == name
    assert family.parser(TOOLS, prompt="") is not None
    assert "root" in family.call_grammar(TOOLS, name=None, prompt="")
    assert "root" in family.answer_grammar(None, prompt="")


def test_glm_families_have_their_own_tool_format_and_stop_strings() -> None:
    assert family_for("glm47") is glm47 and family_for("glm45") is glm45
    for family in (glm45, glm47):
        assert family.native_tools and family.stop == STOP
    # The two layouts differ only in their data.
    assert glm45.layout != glm47.layout
    assert glm45.call_grammar(TOOLS, name="f", prompt="</think>") != glm47.call_grammar(
        TOOLS, name="f", prompt="</think>"
    )


def test_plain_families_call_in_json_and_keep_their_text() -> None:
    family = family_for("gemma")
    assert not family.native_tools and family.stop == ()
    assert isinstance(family.parser(TOOLS, prompt="", json_call=True), JsonCallParser)
    assert isinstance(family.parser(TOOLS, prompt="", trim=True), TrimmedParser)
    assert isinstance(family.parser(TOOLS, prompt=""), PlainParser)
