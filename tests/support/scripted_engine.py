"""An ``Engine`` whose generations write a script: for the serving layer's fast tests,
where the real engine is not the point (legs, steering, the job table's families).

Each ``start`` records its request and answers with ``script(request)``'s token ids,
one at a time, ending with "stop" when the script is done, "length" at ``max_tokens``,
"cancelled" after ``cancel``. A token is one character (its code point is its id), or a
tag such as ``</think>`` that a real tokenizer holds as one token (``tokens_of``). The real
engines are tested in tests/engine/ and end to end in tests/e2e/.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable

from glmserve.engine.types import (
    Engine,
    EngineBusy,
    EngineInfo,
    EngineStats,
    Generation,
    GenerationRequest,
    TokenOut,
    Usage,
)

__all__ = ["ScriptedEngine", "text_of", "tokens_of"]

_TAGS = re.compile(r"(<[^<>]+>)")
_IDS: dict[str, int] = {}
_PIECES: dict[int, str] = {}


def _tag(tag: str) -> int:
    if tag not in _IDS:
        _IDS[tag] = 0x110000 + len(_IDS)  # above every code point
        _PIECES[_IDS[tag]] = tag
    return _IDS[tag]


def tokens_of(text: str) -> list[int]:
    """One token per character, and one per tag (``<...>``)."""
    out: list[int] = []
    for part in _TAGS.split(text):
        if _TAGS.fullmatch(part):
            out.append(_tag(part))
        else:
            out.extend(ord(c) for c in part)
    return out


def text_of(tokens: list[int]) -> str:
    return "".join(_PIECES.get(t) or chr(t) for t in tokens)


class _ScriptedGeneration(Generation):
    def __init__(self, tokens: list[int], request: GenerationRequest) -> None:
        self._tokens = tokens
        self._request = request
        self._sent = 0
        self._cancelled = False
        self.usage = Usage(prompt_tokens=len(request.prompt_tokens))

    async def __aiter__(self) -> AsyncIterator[TokenOut]:
        while self.finish_reason is None:
            await asyncio.sleep(0)  # a decode step: others run in between
            if self._cancelled:
                self._end("cancelled")
            elif self._sent >= self._request.max_tokens:
                self._end("length")
            elif self._sent >= len(self._tokens):
                self._end("stop")
            else:
                token = self._tokens[self._sent]
                self._sent += 1
                self.usage = Usage(len(self._request.prompt_tokens), 0, self._sent)
                yield TokenOut(token, text_of([token]))

    def _end(self, reason: str) -> None:
        self.finish_reason = reason  # type: ignore[assignment]

    def cancel(self) -> None:
        self._cancelled = True


class ScriptedEngine(Engine):
    supports_grammar = True

    def __init__(self, script: Callable[[GenerationRequest], list[int]]) -> None:
        self.script = script
        self.requests: list[GenerationRequest] = []
        self.busy = False
        """When true, ``start`` refuses (a full queue)."""
        self.info = EngineInfo(4096, 4096, None, "", "", "scripted")

    def tokenize(self, text: str) -> list[int]:
        return tokens_of(text)

    def start(self, request: GenerationRequest) -> Generation:
        if self.busy:
            raise EngineBusy("the scripted engine is busy")
        self.requests.append(request)
        return _ScriptedGeneration(self.script(request), request)

    def stats(self) -> EngineStats:
        return EngineStats(0, 0, 0, 0, 0)

    def close(self) -> None:
        pass
