"""Escaped argument values (docs/glm-format.md, "Escaped values"), as properties.

Models sometimes write an array or object parameter's JSON escaped as if inside a
string (``[{\\"id\\": \\"1\\"}]``), or the two characters backslash-n where GLM-4.5's
layout has a newline. For any value and any chunking: the escaped and the plain form
give the same typed value; a string parameter keeps its backslashes exactly; streamed
equals whole.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from glmserve.chat import glm45, glm47
from glmserve.chat.output import collect
from tests.chat.glm_helpers import chunkings, stream

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "save",
            "parameters": {
                "type": "object",
                "properties": {
                    "items": {"type": "array"},
                    "meta": {"type": "object"},
                    "path": {"type": "string"},
                },
            },
        },
    }
]
PROMPT = "<|assistant|></think>"  # thinking off: output starts as content

_TEXT = st.text(alphabet=st.sampled_from(list('ab "\\\n/:{}[],é中')), max_size=12)
_SCALAR = st.none() | st.booleans() | st.integers(-1000, 1000) | _TEXT
_JSON = st.recursive(
    _SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=8,
)
_ARRAYS = st.lists(_JSON, max_size=4)
_OBJECTS = st.dictionaries(_TEXT, _JSON, max_size=4)
# what a string parameter may hold: backslashes of every kind, never a closing tag
_STRINGS = st.lists(
    st.sampled_from([*'ab\\n"t/ C:.*+?()[]{}$^', "\\n", "\\\\", "\\frac", "C:\\Users"]),
    max_size=20,
).map("".join)


def _escaped(value: Any) -> str:
    """The value's JSON as the inside of a JSON string: quotes and backslashes escaped."""
    return json.dumps(json.dumps(value, ensure_ascii=False), ensure_ascii=False)[1:-1]


def _call(args: dict[str, str], *, layout: str) -> str:
    parts = "".join(
        f"<arg_key>{k}</arg_key>{layout}<arg_value>{v}</arg_value>{layout}" for k, v in args.items()
    )
    return f"<tool_call>save{layout}{parts}</tool_call>"


def _arguments(module: Any, text: str, seed: int) -> dict[str, Any]:
    """The call's arguments, the same in every chunking of ``text``."""
    whole = collect(stream(module, [text], TOOLS, PROMPT))
    for pieces in chunkings(text, seed=seed, randoms=3):
        assert collect(stream(module, pieces, TOOLS, PROMPT)) == whole
    assert len(whole.tool_calls) == 1
    return json.loads(whole.tool_calls[0].arguments)  # type: ignore[no-any-return]


@settings(max_examples=150, deadline=None)
@given(items=_ARRAYS, meta=_OBJECTS, seed=st.integers(0, 1000))
def test_escaped_and_plain_arrays_and_objects_type_the_same(
    items: list[Any], meta: dict[str, Any], seed: int
) -> None:
    plain = {
        "items": json.dumps(items, ensure_ascii=False),
        "meta": json.dumps(meta, ensure_ascii=False),
    }
    escaped = {"items": _escaped(items), "meta": _escaped(meta)}
    for module, layout in ((glm47, ""), (glm45, "\n")):
        expected = {"items": items, "meta": meta}
        assert _arguments(module, _call(plain, layout=layout), seed) == expected
        assert _arguments(module, _call(escaped, layout=layout), seed) == expected


@settings(max_examples=150, deadline=None)
@given(path=_STRINGS, seed=st.integers(0, 1000))
def test_string_values_keep_their_backslashes(path: str, seed: int) -> None:
    for module, layout in ((glm47, ""), (glm45, "\n")):
        assert _arguments(module, _call({"path": path}, layout=layout), seed) == {"path": path}


@settings(max_examples=100, deadline=None)
@given(items=_ARRAYS, path=_STRINGS, seed=st.integers(0, 1000))
def test_literal_backslash_n_layout_of_glm45_is_layout(
    items: list[Any], path: str, seed: int
) -> None:
    """GLM-4.5's layout written as the two characters backslash-n: same arguments."""
    args = {"items": json.dumps(items, ensure_ascii=False), "path": path}
    expected = {"items": items, "path": path}
    assert _arguments(glm45, _call(args, layout="\\n"), seed) == expected


def test_a_string_that_looks_escaped_stays_a_string() -> None:
    """Only array and object parameters are unescaped, and only when the raw text is
    not JSON: a string parameter holding escaped JSON is the text as written."""
    text = _call({"path": '[{\\"id\\": \\"1\\"}]', "items": '[\\"C:\\\\\\\\dir\\"]'}, layout="")
    assert _arguments(glm47, text, 0) == {"path": '[{\\"id\\": \\"1\\"}]', "items": ["C:\\dir"]}
