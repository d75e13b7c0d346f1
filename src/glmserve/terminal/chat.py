"""``glmserve chat``: a conversation in the terminal.

Input: one line is one message; a line ending in ``\\`` continues on the next; a line
that is just ``\"\"\"`` starts a block that the next such line ends. Ctrl-C while an
answer streams cancels it (the connection is closed, so the server stops generating)
and drops that exchange; at an empty prompt, Ctrl-C twice or Ctrl-D quits.
Commands: docs/cli.md.
"""

from __future__ import annotations

import contextlib
import json
import shlex
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text

from glmserve.terminal.client import ApiError, Turn, ZaiClient
from glmserve.terminal.conversation import Conversation, load_tools
from glmserve.terminal.view import PlainView, RichView, View

__all__ = ["ChatSession", "ask"]

HELP = """\
/model [M]                 show the models, or switch to M
/thinking [on|off|keep|clear]  thinking on or off; keep (default) or clear past reasoning
/system [TEXT|none]        show, set or remove the system prompt
/tools [FILE|none]         show, load (JSON) or remove the tools the model may call
/clear                     forget the conversation (the system prompt stays)
/save [FILE]               write the conversation as JSON
/reasoning                 show the last answer's full reasoning
/help                      this list;  /bye (or Ctrl-D) quits
Multi-line: end a line with \\ to go on, or put \"\"\" alone on a line to start and end a block.
Ctrl-C cancels the answer being written; at an empty prompt, Ctrl-C twice quits."""


def ask(client: ZaiClient, conversation: Conversation, view: View) -> Turn | None:
    """Send the conversation, show the answer as it streams; None if Ctrl-C cancelled it."""
    turn = Turn()
    view.begin()
    try:
        with contextlib.closing(client.stream(conversation.body())) as chunks:
            for chunk in chunks:
                for delta in turn.add(chunk):
                    view.show(delta, turn)
    except KeyboardInterrupt:
        view.end(turn, cancelled=True)
        return None
    except BaseException:
        view.end(turn)
        raise
    view.end(turn)
    return turn


class ChatSession:
    def __init__(
        self,
        client: ZaiClient,
        conversation: Conversation,
        console: Console,
        read: Callable[[str], str] = input,
    ) -> None:
        self.client = client
        self.conversation = conversation
        self.console = console
        self.read = read
        self.view: View = RichView(console) if console.is_terminal else PlainView(console.file)
        self.last_reasoning = ""
        self._mark = 0  # length of the history before the exchange under way

    def run(self) -> int:
        self._say(
            f"glmserve chat · {self.conversation.model} · {self.client.base_url}\n"
            "/help for commands · Ctrl-D or /bye quits",
            "dim",
        )
        interrupted = False
        while True:
            pending = self.conversation.pending_calls()
            prompt = f"result of {pending[0]['function']['name']}> " if pending else ">>> "
            try:
                text = self._read_message(prompt)
            except EOFError:
                self.console.print()
                return 0
            except KeyboardInterrupt:
                if interrupted:
                    self.console.print()
                    return 0
                interrupted = True
                self._say("\n(Ctrl-C again or Ctrl-D to quit)", "dim")
                continue
            interrupted = False
            if not text.strip():
                continue
            if text.startswith("/"):
                if self._command(text) == "quit":
                    return 0
                continue
            if pending:
                self.conversation.messages.append(
                    {"role": "tool", "tool_call_id": pending[0]["id"], "content": text}
                )
                if len(pending) > 1:
                    continue
            else:
                self._mark = len(self.conversation.messages)
                self.conversation.messages.append({"role": "user", "content": text})
            self._answer()

    def _answer(self) -> None:
        try:
            turn = ask(self.client, self.conversation, self.view)
        except ApiError as exc:
            self._say(f"error: {exc}", "bold red")
            turn = None
        if turn is None:  # cancelled or refused: the exchange is dropped
            del self.conversation.messages[self._mark :]
            return
        self.last_reasoning = turn.reasoning
        self.conversation.messages.append(turn.message())
        if turn.tool_calls:
            self._say("(type each tool's result; it is sent back to the model)", "dim")

    def _read_message(self, prompt: str) -> str:
        first = self.read(prompt)
        if first.strip() == '"""':
            lines: list[str] = []
            while (line := self.read("... ")).strip() != '"""':
                lines.append(line)
            return "\n".join(lines)
        lines = [first]
        while lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1]
            lines.append(self.read("... "))
        return "\n".join(lines)

    def _command(self, text: str) -> str | None:
        name, _, rest = text.partition(" ")
        rest = rest.strip()
        handlers: dict[str, Callable[[str], str | None]] = {
            "/model": self._model,
            "/thinking": self._thinking,
            "/system": self._system,
            "/tools": self._tools,
            "/clear": self._clear,
            "/save": self._save,
            "/reasoning": lambda _: self._say(self.last_reasoning or "(no reasoning yet)", "dim"),
            "/help": lambda _: self._say(HELP),
            "/?": lambda _: self._say(HELP),
        }
        if name in ("/bye", "/exit", "/quit"):
            return "quit"
        handler = handlers.get(name)
        if handler is None:
            self._say(f"unknown command {name}; /help lists them", "red")
            return None
        return handler(rest)

    def _model(self, rest: str) -> None:
        if rest:
            self.conversation.model = rest
            self._say(f"model: {rest}")
            return
        try:
            models = self.client.models()
        except ApiError as exc:
            self._say(f"cannot list models: {exc}", "red")
            return
        for model in models:
            mark = "*" if model == self.conversation.model else " "
            self._say(f"{mark} {model}")

    def _thinking(self, rest: str) -> None:
        conversation = self.conversation
        changes = {
            "on": ("thinking", True), "off": ("thinking", False),
            "keep": ("keep_reasoning", True), "clear": ("keep_reasoning", False),
        }  # fmt: skip
        if rest in changes:
            setattr(conversation, *changes[rest])
        elif rest:
            self._say("usage: /thinking [on|off|keep|clear]", "red")
            return
        self._say(
            f"thinking {'on' if conversation.thinking else 'off'}; past reasoning "
            f"{'kept (clear_thinking false)' if conversation.keep_reasoning else 'cleared'}"
        )

    def _system(self, rest: str) -> None:
        if rest == "none":
            self.conversation.system = None
            self._say("system prompt removed")
        elif rest:
            self.conversation.system = rest
            self._say("system prompt set")
        else:
            self._say(self.conversation.system or "(no system prompt)")

    def _tools(self, rest: str) -> None:
        if rest == "none":
            self.conversation.tools = None
        elif rest:
            try:
                self.conversation.tools = load_tools(rest)
            except ValueError as exc:
                self._say(str(exc), "red")
                return
        tools = self.conversation.tools or []
        names = [t.get("function", {}).get("name", t["type"]) for t in tools]
        self._say("tools: " + (", ".join(names) or "none"))

    def _clear(self, _: str) -> None:
        self.conversation.messages.clear()
        self.last_reasoning = ""
        self._say("conversation cleared")

    def _save(self, rest: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        path = Path(shlex.split(rest)[0] if rest else f"glmserve-chat-{stamp}.json").expanduser()
        transcript = self.conversation.transcript(self.client.base_url)
        try:
            path.write_text(json.dumps(transcript, ensure_ascii=False, indent=2) + "\n")
        except OSError as exc:
            self._say(f"cannot save: {exc}", "red")
            return
        self._say(f"saved to {path}")

    def _say(self, text: str, style: str = "") -> None:
        self.console.print(Text(text, style=style))
