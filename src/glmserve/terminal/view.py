"""How an answer appears as it streams: rich in a terminal, plain text in a pipe.

In a terminal the reasoning streams in a dim style and folds to one summary line
when the answer starts; the answer is rendered as Markdown (code highlighted), its
finished blocks printed for good and the block still being written redrawn live;
tool calls build up on their own lines.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from typing import IO, Protocol

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

from glmserve.terminal.client import StreamDelta, Turn

__all__ = ["View", "RichView", "PlainView", "split_finished"]


class View(Protocol):
    def begin(self) -> None: ...
    def show(self, delta: StreamDelta, turn: Turn) -> None: ...
    def end(self, turn: Turn, *, cancelled: bool = False) -> None: ...


class RichView:
    def __init__(
        self, console: Console, *, keep_reasoning: bool = False, hint: str = "/reasoning"
    ) -> None:
        """``keep_reasoning``: leave the whole reasoning on screen (dim) instead of
        folding it (``glmserve run --reasoning``); ``hint``: what shows a folded one."""
        self.console = console
        self.hint = hint
        self.keep_reasoning = keep_reasoning
        self._live: Live | None = None
        self._started = 0.0
        self._printed = 0  # characters of the answer printed for good
        self._folded = False
        self._drawn = 0.0  # when the live region was last redrawn
        self._kinds: set[str] = set()

    def begin(self) -> None:
        self._started = time.monotonic()
        self._printed = 0
        self._folded = False
        self._kinds = set()
        self._live = Live(console=self.console, auto_refresh=False, transient=False)
        self._live.start()

    def show(self, delta: StreamDelta, turn: Turn) -> None:
        assert self._live is not None
        if delta.kind != "reasoning" and turn.reasoning and not self._folded:
            self._fold(turn)
        if delta.kind == "content":
            finished, _ = split_finished(turn.content[self._printed :])
            if finished.strip():
                self._live.console.print(Markdown(finished))
            self._printed += len(finished)
        # Redraw at most about 20 times a second, but always for the first piece of each
        # kind, so even a short reasoning is seen before it folds.
        now = time.monotonic()
        first = delta.kind not in self._kinds
        self._kinds.add(delta.kind)
        if first or now - self._drawn >= 0.05:
            self._drawn = now
            self._live.update(self._pending(turn), refresh=True)

    def end(self, turn: Turn, *, cancelled: bool = False) -> None:
        if self._live is None:
            return
        if turn.reasoning and not self._folded:
            self._fold(turn)
        self._live.update(self._pending(turn, final=True), refresh=True)
        self._live.stop()
        self._live = None
        if cancelled:
            self.console.print(Text("[answer cancelled]", style="yellow"))
        elif turn.finish_reason in _STOPPED:
            self.console.print(Text(_STOPPED[turn.finish_reason], style="yellow"))

    def _fold(self, turn: Turn) -> None:
        assert self._live is not None
        self._folded = True
        seconds = time.monotonic() - self._started
        words = len(turn.reasoning.split())
        summary = f"▸ thought for {seconds:.1f}s ({words} words; {self.hint} shows it)"
        self._live.update(Text(""), refresh=True)
        if self.keep_reasoning:
            self._live.console.print(Text(turn.reasoning, style="dim"))
        else:
            self._live.console.print(Text(summary, style="dim italic"))

    def _pending(self, turn: Turn, *, final: bool = False) -> RenderableType:
        parts: list[RenderableType] = []
        if turn.reasoning and not self._folded:
            parts.append(self._reasoning_tail(turn.reasoning))
        rest = turn.content[self._printed :]
        if rest.strip():
            parts.append(Markdown(rest))
        for call in turn.tool_calls:
            parts.append(_call_text(call, done=final))
        return Group(*parts)

    def _reasoning_tail(self, reasoning: str) -> Text:
        """The last lines of the reasoning that fit the screen: a live region taller than
        the terminal could not be redrawn in place."""
        room = max(3, self.console.height - 4)
        recent = reasoning[-room * self.console.width :]  # enough to fill the room
        lines = Text(recent, style="dim").wrap(self.console, self.console.width)
        shown = Text("\n").join(lines[-room:])
        shown.stylize("dim")
        return shown


class PlainView:
    """Plain text for pipes: the answer on ``out``, the reasoning (when asked for) on
    ``reasoning_out``, tool calls as ``[tool call] name {json}`` lines."""

    def __init__(self, out: IO[str] | None = None, reasoning_out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.reasoning_out = reasoning_out

    def begin(self) -> None:
        pass

    def show(self, delta: StreamDelta, turn: Turn) -> None:
        if delta.kind == "reasoning" and self.reasoning_out is not None:
            self.reasoning_out.write(delta.text)
            self.reasoning_out.flush()
        elif delta.kind == "content":
            self.out.write(delta.text)
            self.out.flush()

    def end(self, turn: Turn, *, cancelled: bool = False) -> None:
        if turn.reasoning and self.reasoning_out is not None:
            self.reasoning_out.write("\n")
        if turn.content and not turn.content.endswith("\n"):
            self.out.write("\n")
        for call in turn.tool_calls:
            self.out.write(_call_text(call, done=True).plain + "\n")
        if cancelled:
            self.out.write("[answer cancelled]\n")
        elif turn.finish_reason in _STOPPED:
            sys.stderr.write(_STOPPED[turn.finish_reason] + "\n")
        self.out.flush()


_STOPPED = {
    "length": "[cut: max_tokens or the context window reached]",
    "sensitive": "[stopped by the content filter]",
    "network_error": "[stopped: the model failed]",
}


def _call_text(call: dict[str, object], *, done: bool) -> Text:
    function = call.get("function")
    assert isinstance(function, dict)
    arguments = str(function.get("arguments", ""))
    if done:
        with contextlib.suppress(ValueError):
            arguments = json.dumps(json.loads(arguments), ensure_ascii=False)
    text = Text("[tool call] ", style="bold magenta")
    text.append(str(function.get("name") or "…"), style="bold")
    text.append(" " + arguments)
    return text


def split_finished(text: str) -> tuple[str, str]:
    """Split Markdown at the last blank line outside a code fence: the first part is
    finished blocks (safe to print for good), the second the block still growing."""
    cut = 0
    position = 0
    fenced = False
    for line in text.splitlines(keepends=True):
        position += len(line)
        if not line.endswith("\n"):
            break
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            if not fenced:
                cut = position  # a closed code block is finished
        elif not fenced and not line.strip():
            cut = position
    return text[:cut], text[cut:]
