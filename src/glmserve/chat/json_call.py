"""Tool calls for models without a native tool-call format (the default Gemma).

Such a model is made to call through constrained decoding: a grammar
(``grammar.json_call``) forces its whole output to be ``{"name": ..., "arguments":
{...}}``. This parser reads that object back. The call is complete only when the output
is, so its arguments arrive whole, in one delta, at the end.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from glmserve.chat.output import Delta
from glmserve.chat.schema import ToolSpecs, tool_specs

__all__ = ["JsonCallParser"]


class JsonCallParser:
    def __init__(self, tools: Sequence[Mapping[str, Any]] | ToolSpecs | None) -> None:
        self._specs = tool_specs(tools)
        self._text: list[str] = []

    def feed(self, text: str) -> list[Delta]:
        self._text.append(text)
        return []

    def finish(self) -> list[Delta]:
        text = "".join(self._text)
        try:
            call = json.loads(text)
        except ValueError:
            call = None
        # Output cut short (max_tokens) is not a call: the client gets the text as it is.
        if not (
            isinstance(call, dict)
            and isinstance(call.get("name"), str)
            and self._specs.declared(call["name"])
            and isinstance(call.get("arguments"), dict)
        ):
            return [Delta("content", text.strip())] if text.strip() else []
        arguments = json.dumps(call["arguments"], ensure_ascii=False)
        return [Delta("tool_call", arguments, 0, call["name"])]
