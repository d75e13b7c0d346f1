"""Decoding a JSON request body safely: any encoding JSON allows, bounded nesting, and
no lone surrogates.

One function for every surface, so every endpoint accepts the same bodies
(docs/api.md, "Request limits"): UTF-8 (with or without a BOM), UTF-16 or UTF-32, as
RFC 8259 and Python's ``json`` detect them. Nesting is measured before parsing, so a
body nested a hundred thousand levels deep is refused without recursing into it. A
lone surrogate escape (``"\\ud800"``) is refused, as Anthropic's API does: no text of
it could be tokenized or stored.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from glmserve.errors import InvalidRequest

__all__ = ["decode_json", "loads_bounded", "JsonTooDeep", "LoneSurrogate"]

# A JSON string literal, escapes included (unrolled so that it runs in linear time).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonTooDeep(InvalidRequest):
    """1210: JSON nested deeper than the server allows."""


class LoneSurrogate(InvalidRequest):
    """1210: a string escape of half a UTF-16 surrogate pair, which is no text."""


def decode_json(body: bytes, *, max_depth: int) -> Any:
    """The parsed body; ``InvalidRequest`` (1210) if it is not JSON we accept."""
    try:
        text = body.decode(json.detect_encoding(body))
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}") from None
    return loads_bounded(text, max_depth=max_depth, what="The request body")


def loads_bounded(text: str, *, max_depth: int, what: str) -> Any:
    """``json.loads`` for text from a client (a body, a tool call's arguments string)."""
    depth = nesting(text)
    if depth > max_depth:
        raise JsonTooDeep(f"{what} is nested {depth} levels deep; at most {max_depth} allowed.")
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidRequest(f"{what} is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise LoneSurrogate(
            f"{what} is not valid JSON: it holds a lone surrogate escape (\\ud800-\\udfff "
            "without its pair), which is not text."
        )
    return value


def nesting(text: str) -> int:
    """How deep the arrays and objects of a JSON text go (brackets inside strings do not
    count). For malformed text the count may be off, which only matters to say "too
    deep" rather than "not JSON"."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    return max(0, *accumulate(map(_STEP.__getitem__, brackets)))


def _has_lone_surrogate(value: Any) -> bool:
    # Depth was bounded before parsing, so this recursion is too.
    if isinstance(value, str):
        return _SURROGATE.search(value) is not None
    if isinstance(value, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False
