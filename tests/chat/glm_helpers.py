"""Helpers for the GLM parser tests: feeding text in every chunking, checking invariants."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Iterator, Mapping, Sequence
from types import ModuleType
from typing import Any

from glmserve.chat.output import Delta, ParsedMessage, collect

Tools = Sequence[Mapping[str, Any]] | None


def chunkings(text: str, *, seed: int = 0, randoms: int = 6) -> Iterator[list[str]]:
    """The text whole, in chunks of every size from 1 to 8, and in random splits."""
    yield [text]
    for size in range(1, 9):
        yield [text[i : i + size] for i in range(0, len(text), size)] or [""]
    rng = random.Random(seed)
    for _ in range(randoms if len(text) > 1 else 0):
        cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 12))))
        bounds = [0, *cuts, len(text)]
        yield [text[a:b] for a, b in itertools.pairwise(bounds)]


def stream(module: ModuleType, pieces: Sequence[str], tools: Tools, prompt: str) -> list[Delta]:
    parser = module.parser(tools, prompt=prompt)
    deltas: list[Delta] = []
    for piece in pieces:
        deltas += parser.feed(piece)
    deltas += parser.finish()
    check_delta_invariants(deltas, tools)
    return deltas


def check_delta_invariants(deltas: Sequence[Delta], tools: Tools) -> None:
    """What every delta sequence must satisfy, whatever the text."""
    declared = {(t.get("function") or t).get("name") for t in tools or ()}
    seen: list[int] = []
    for d in deltas:
        assert d.text or d.kind == "tool_call", "no empty content or reasoning deltas"
        if d.kind != "tool_call":
            continue
        if d.name is not None:
            assert d.name in declared, f"undeclared name {d.name!r} emitted"
            assert d.index not in seen, "a name is emitted once"
            assert d.index == len(seen), "indices follow call order"
            seen.append(d.index)
        else:
            assert seen and d.index == seen[-1], "arguments belong to the latest call"
    message = collect(deltas)
    for call in message.tool_calls:
        assert isinstance(json.loads(call.arguments), dict)
        args = [d.text for d in deltas if d.kind == "tool_call" and d.index == call.index]
        assert "".join(args) == call.arguments
        if call.arguments == "{}":
            assert [a for a in args if a] == ["{}"], "a zero-argument call gives {} once"


def parse_every_way(module: ModuleType, text: str, tools: Tools, prompt: str) -> ParsedMessage:
    """Parse whole and in every chunking; all must agree. Returns the whole result."""
    whole = collect(stream(module, [text], tools, prompt))
    assert module.parse(text, tools, prompt=prompt) == whole
    for pieces in chunkings(text):
        assert collect(stream(module, pieces, tools, prompt)) == whole, pieces
    return whole
