"""The model-family interface: what the serving layer needs of a conversation format's
output side, whatever the model.

Every family implements ``Family``; ``families.family_for`` picks one from the
catalog's family name. GLM families (glm_family.py) have a native tool-call format
parsed from the output; ``PlainFamily`` (Gemma's transcript, generic ChatML weights)
has none: a forced call is a JSON object written under a grammar (json_call.py), and
everything else the model writes is content.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from glmserve.chat import grammar
from glmserve.chat.json_call import JsonCallParser
from glmserve.chat.output import OutputParser, PlainParser, TrimmedParser
from glmserve.chat.schema import ToolSpecs, tool_specs

__all__ = ["Family", "PlainFamily"]

Tools = Sequence[Mapping[str, Any]]


class Family(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def stop(self) -> tuple[str, ...]:
        """Strings that end the assistant's turn."""
        ...

    @property
    def native_tools(self) -> bool:
        """The model writes tool calls in a format of its own, parsed from its output;
        otherwise a forced call is a JSON object (``json_call``)."""
        ...

    @property
    def end_thinking(self) -> str | None:
        """The text that closes a thinking block; None: the family has none."""
        ...

    def parser(
        self,
        tools: Tools | ToolSpecs | None,
        *,
        prompt: str,
        trim: bool = False,
        json_call: bool = False,
    ) -> OutputParser:
        """The output parser of one completion of ``prompt`` (``tools``: as declared,
        or their specs from schema.tool_specs). ``trim``: whitespace
        around the reply belongs to the prompt format; ``json_call``: a grammar forces
        the whole output to be a JSON call."""
        ...

    def call_grammar(
        self,
        tools: Tools,
        *,
        name: str | None,
        prompt: str,
        thinking: grammar.Thinking | None = None,
    ) -> str:
        """GBNF forcing one call (to ``name``, or to any tool) with schema-valid
        arguments. Raises grammar.GrammarError for a schema it cannot express.
        ``thinking``: what may precede it, when not what the prompt implies."""
        ...

    def answer_grammar(
        self,
        schema: Mapping[str, Any] | None,
        *,
        prompt: str,
        thinking: grammar.Thinking | None = None,
    ) -> str:
        """GBNF forcing a JSON answer (matching ``schema`` if given)."""
        ...

    def call_rest_grammar(
        self, tools: Tools, *, strict: Collection[str], parallel: bool, consumed: str = ""
    ) -> str | None:
        """GBNF for the rest of a call the model opened by itself (``tool_choice``
        "auto"), with schema-valid arguments for the ``strict`` tools; None where the
        family has no native call format or no declared name starts with ``consumed``."""
        ...


@dataclass(frozen=True)
class PlainFamily:
    """Models without a reasoning or tool-call syntax of their own."""

    name: str
    stop: tuple[str, ...] = ()
    native_tools: bool = False
    end_thinking: str | None = None

    def parser(
        self,
        tools: Tools | ToolSpecs | None,
        *,
        prompt: str,
        trim: bool = False,
        json_call: bool = False,
    ) -> OutputParser:
        if json_call:
            return JsonCallParser(tools)
        return TrimmedParser() if trim else PlainParser()

    def call_grammar(
        self,
        tools: Tools,
        *,
        name: str | None,
        prompt: str,
        thinking: grammar.Thinking | None = None,
    ) -> str:
        return grammar.json_call(tool_specs(tools), name=name)

    def answer_grammar(
        self,
        schema: Mapping[str, Any] | None,
        *,
        prompt: str,
        thinking: grammar.Thinking | None = None,
    ) -> str:
        return grammar.json_answer(schema, thinking="none")

    def call_rest_grammar(
        self, tools: Tools, *, strict: Collection[str], parallel: bool, consumed: str = ""
    ) -> str | None:
        return None  # no call format of its own: a call is only ever forced whole
