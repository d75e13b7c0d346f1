"""Properties of the GLM parsers on generated outputs (hypothesis).

Outputs are written the way the official templates write assistant turns (GLM-4.5:
tags on their own lines; GLM-4.7: one line), from tools with typed parameters and
argument values that fit the schemas. For any output and any chunking: streamed equals
whole; each call's argument deltas join to its arguments; the parsed arguments are
exactly the values written (so they fit the schema); reasoning and content come back.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from glmserve.chat import glm45, glm47
from glmserve.chat.output import collect
from tests.chat.glm_helpers import stream

TAGS = ("<think>", "</think>", "<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>")
TAGS += ("<arg_value>", "</arg_value>")

PROPERTIES: dict[str, tuple[dict[str, Any], st.SearchStrategy[Any]]] = {}


def _free_text(min_size: int = 0) -> st.SearchStrategy[str]:
    alphabet = st.sampled_from([*list('ab <>/"\\\n\t{}[]:,é中🎉'), "</", "<a"])
    return (
        st.lists(alphabet, min_size=min_size, max_size=30)
        .map("".join)
        .filter(lambda s: not any(t in s for t in TAGS))
    )


PROPERTIES = {
    "text": ({"type": "string"}, _free_text()),
    "maybe": ({"type": ["string", "null"]}, st.one_of(st.none(), _free_text(1))),
    "opt": ({"anyOf": [{"type": "string"}, {"type": "null"}]}, _free_text()),
    "count": ({"type": "integer"}, st.integers(-(10**12), 10**12)),
    "ratio": ({"type": "number"}, st.floats(allow_nan=False, allow_infinity=False)),
    "flag": ({"type": "boolean"}, st.booleans()),
    "ids": ({"type": "array", "items": {"type": "integer"}}, st.lists(st.integers(), max_size=4)),
    "unit": ({"$ref": "#/$defs/unit"}, st.sampled_from(["c", "f"])),
    "meta": (
        {"type": "object"},
        st.dictionaries(st.text(max_size=4), st.integers() | st.text(max_size=6), max_size=3),
    ),
}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "work",
            "parameters": {
                "type": "object",
                "$defs": {"unit": {"type": "string", "enum": ["c", "f"]}},
                "properties": {k: schema for k, (schema, _) in PROPERTIES.items()},
            },
        },
    },
    {"type": "function", "function": {"name": "noop", "parameters": {}}},
]


@st.composite
def calls(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    if draw(st.booleans()):
        return "noop", {}
    keys = draw(st.lists(st.sampled_from(list(PROPERTIES)), unique=True, max_size=5))
    return "work", {k: draw(PROPERTIES[k][1]) for k in keys}


def _value(v: Any) -> str:
    # As the templates write it: strings bare, anything else as JSON.
    return v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)


def _call(name: str, args: dict[str, Any], glm45_layout: bool) -> str:
    nl = "\n" if glm45_layout else ""
    body = "".join(
        f"<arg_key>{k}</arg_key>{nl}<arg_value>{_value(v)}</arg_value>{nl}" for k, v in args.items()
    )
    return f"{nl}<tool_call>{name}{nl}{body}</tool_call>"


@settings(max_examples=150, deadline=None)
@given(
    family=st.sampled_from(["glm45", "glm47"]),
    reasoning=_free_text(),
    content=_free_text(),
    made=st.lists(calls(), max_size=3),
    cuts=st.lists(st.integers(0, 400), max_size=12),
)
def test_streamed_equals_whole_and_arguments_round_trip(
    family: str,
    reasoning: str,
    content: str,
    made: list[tuple[str, dict[str, Any]]],
    cuts: list[int],
) -> None:
    module = glm45 if family == "glm45" else glm47
    if family == "glm45":  # the model opens its thinking block itself
        prompt, text = "<|assistant|>", f"\n<think>{reasoning}</think>\n{content}"
    else:  # the template opened it
        prompt, text = "<think>", f"{reasoning}</think>{content}"
    text += "".join(_call(n, a, family == "glm45") for n, a in made)
    whole = module.parse(text, TOOLS, prompt=prompt)
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    assert collect(stream(module, pieces, TOOLS, prompt)) == whole
    assert whole.reasoning_content == (reasoning.strip() or None)
    assert whole.content == (content.strip() or None)
    assert [(c.name, json.loads(c.arguments)) for c in whole.tool_calls] == made


@settings(max_examples=100, deadline=None)
@given(text=st.lists(st.sampled_from([*"ab <\n", *TAGS, "noop", "work"]), max_size=40).map("".join))
def test_any_text_streams_like_whole(text: str) -> None:
    # Arbitrary (mostly malformed) tag soup: never raises, always the same either way.
    for module, prompt in ((glm47, "<think>"), (glm45, "<|assistant|>")):
        whole = module.parse(text, TOOLS, prompt=prompt)
        assert collect(stream(module, list(text), TOOLS, prompt)) == whole
