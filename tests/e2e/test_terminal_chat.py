"""``glmserve chat`` and ``glmserve run`` as a user runs them, against a real server on
the scripted GLM model (tests/support/scripted_glm.py).

The chat runs in a pseudo-terminal (pexpect); what it draws is fed to a terminal
emulator (pyte), so the tests read the screen a user would see: the reasoning drawn
live, then folded to one line when the answer starts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pyte
import pytest

from tests.conftest import Server
from tests.support.scripted_glm import Script, build_scripted_glm

GREETING_THOUGHT = "Let me think about greeting the user."
GREETING = "Hello! Here is code:\n\n```python\nprint('hi')\n```\n\nBye."
WEATHER_THOUGHT = "The user wants the weather. I will call the tool."
LONG = " ".join(f"step{i}" for i in range(300))
SCRIPTS = [
    Script("It is 21 degrees.</think>It is **21 °C** in Paris.<|user|>", when="<tool_response>"),
    Script(
        f"{WEATHER_THOUGHT}</think><tool_call>get_weather<arg_key>city</arg_key>"
        "<arg_value>Paris</arg_value></tool_call><|observation|>",
        when="Zorblat",
    ),
    Script(f"Thinking at length: {LONG} finished.</think>Never shown.<|user|>", when="Longwinded"),
    Script(f"{GREETING_THOUGHT}</think>{GREETING}<|user|>"),
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
ROWS, COLUMNS = 40, 100


@pytest.fixture(scope="module")
def chat_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    tmp = tmp_path_factory.mktemp("chat")
    gguf = build_scripted_glm(tmp / "scripted-glm.gguf", SCRIPTS).path
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\nopen = true\ndata_dir = "{tmp / "data"}"\n\n'
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\ncontext_size = 4096\n'
    )
    prompts = tmp / "prompts.jsonl"
    server = Server(config, tmp / "server.log", env={"GLMSERVE_PROMPT_LOG": str(prompts)})
    yield server, prompts
    server.stop()


def _terminal_env() -> dict[str, str]:
    """A colour terminal, whatever the environment running the tests says."""
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS), "LINES": str(ROWS)}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    return env


class Terminal:
    """``glmserve chat`` in a pseudo-terminal, and the screen it draws."""

    def __init__(self, server: Server, *args: str) -> None:
        env = _terminal_env()
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "glmserve", "chat", "--base-url", server.zai_base, *args],
            env=env,
            dimensions=(ROWS, COLUMNS),
            encoding="utf-8",
            timeout=90,
        )
        self.screen = pyte.Screen(COLUMNS, ROWS)
        self._stream = pyte.Stream(self.screen)
        self.raw = ""

    def expect(self, pattern: str) -> str:
        """Read until ``pattern`` (a literal string); return what came before it."""
        self.child.expect_exact(pattern)
        seen = self.child.before + pattern
        self.raw += seen
        self._stream.feed(seen)
        return str(self.child.before)

    def send(self, line: str) -> None:
        self.child.sendline(line)

    def text(self) -> str:
        return "\n".join(line.rstrip() for line in self.screen.display)

    def close(self) -> None:
        if self.child.isalive():
            self.child.terminate(force=True)


@pytest.fixture
def terminal(chat_server: tuple[Server, Path]) -> Iterator[Terminal]:
    terminals: list[Terminal] = []

    def start(*args: str) -> Terminal:
        terminals.append(Terminal(chat_server[0], *args))
        return terminals[-1]

    yield start  # type: ignore[misc]
    for term in terminals:
        term.close()


def test_reasoning_streams_dim_then_folds_and_the_answer_is_markdown(terminal) -> None:  # type: ignore[no-untyped-def]
    term = terminal()
    term.expect(">>> ")
    term.send("hi there")
    term.expect(">>> ")
    screen = term.text()
    # the reasoning was drawn (its first piece at least: one token, maybe one letter), dim...
    assert "\x1b[2m" + GREETING_THOUGHT[0] in term.raw.split(">>> hi there", 1)[1]
    # ...and is folded to one line once the answer started: no longer on the screen
    assert GREETING_THOUGHT not in screen
    assert "▸ thought for" in screen and "(7 words; /reasoning shows it)" in screen
    # Markdown: the code fence is rendered, not printed
    assert "print('hi')" in screen and "```" not in screen
    assert screen.index("thought for") < screen.index("Hello! Here is code:") < screen.index("Bye.")
    term.send("/reasoning")
    term.expect(">>> ")
    assert GREETING_THOUGHT in term.text()


def test_tool_call_is_shown_its_result_sent_and_reasoning_preserved(  # type: ignore[no-untyped-def]
    terminal, chat_server, tmp_path: Path
) -> None:
    _, prompts = chat_server
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(TOOLS))
    term = terminal("--tools", str(tools))
    term.expect(">>> ")
    term.send("Zorblat: the weather in Paris?")
    term.expect("result of get_weather> ")
    assert '[tool call] get_weather {"city": "Paris"}' in term.text()
    term.send('{"temp": 21}')
    term.expect(">>> ")
    assert "It is 21 °C in Paris." in term.text()  # bold in Markdown, no asterisks
    # multi-line input: a block between triple quotes, and a trailing backslash
    term.send('"""')
    term.send("first line")
    term.send("second line")
    term.send('"""')
    term.expect(">>> ")
    last = json.loads(prompts.read_text().splitlines()[-1])
    assert "<|user|>first line\nsecond line<|assistant|><think>" in last
    # preserved thinking: the earlier answers' reasoning is still in the prompt
    assert f"<think>{WEATHER_THOUGHT}</think><tool_call>get_weather" in last
    assert "<think>It is 21 degrees.</think>It is **21 °C** in Paris." in last
    term.send("third \\")
    term.send("line")
    term.expect(">>> ")
    last = json.loads(prompts.read_text().splitlines()[-1])
    assert "<|user|>third \nline<|assistant|><think>" in last

    saved = tmp_path / "chat.json"
    term.send(f"/save {saved}")
    term.expect(">>> ")
    transcript = json.loads(saved.read_text())
    roles = [m["role"] for m in transcript["messages"]]
    assert roles == ["user", "assistant", "tool", "assistant"] + ["user", "assistant"] * 2
    call = transcript["messages"][1]
    assert call["reasoning_content"] == WEATHER_THOUGHT
    assert call["tool_calls"][0]["function"]["name"] == "get_weather"
    assert transcript["messages"][2]["tool_call_id"] == call["tool_calls"][0]["id"]
    assert transcript["thinking"] == {"type": "enabled", "clear_thinking": False}


def test_ctrl_c_cancels_the_answer_not_the_session(terminal, chat_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = chat_server
    before = _idle(server)
    term = terminal()
    term.expect(">>> ")
    term.send("Longwinded, please")
    term.expect("step3")
    term.child.sendintr()
    term.expect("[answer cancelled]")
    term.expect(">>> ")
    assert "finished" not in term.text()
    after = _idle(server)
    assert after["cancelled"] == before["cancelled"] + 1  # the server stopped generating
    assert after["generated_tokens"] - before["generated_tokens"] < 600
    # the session goes on, without the cancelled exchange
    term.send("hi there")
    term.expect(">>> ")
    assert "Bye." in term.text()
    # Ctrl-C at an empty prompt warns, a second one quits
    term.child.sendintr()
    term.expect("Ctrl-C again or Ctrl-D to quit")
    term.child.sendintr()
    term.child.expect(pexpect.EOF)
    term.child.close()
    assert term.child.exitstatus == 0


def test_a_refused_request_is_one_line_and_the_session_goes_on_until_ctrl_d(terminal) -> None:  # type: ignore[no-untyped-def]
    term = terminal()
    term.expect(">>> ")
    term.send("/model")
    term.expect(">>> ")
    assert "* glm-4.7" in term.text()
    term.send("/model no-such-model")
    term.expect(">>> ")
    term.send("hi there")
    term.expect(">>> ")
    assert "error: HTTP 400" in term.text() and "Traceback" not in term.raw
    term.send("/model glm-4.7")
    term.expect(">>> ")
    term.send("hi there")
    term.expect(">>> ")
    assert "Bye." in term.text()
    term.child.sendeof()
    term.child.expect(pexpect.EOF)
    term.child.close()
    assert term.child.exitstatus == 0


def _idle(server: Server) -> dict:  # type: ignore[type-arg]
    for _ in range(300):  # bounded: about 30 s
        state = server.health()["models"][0]
        if state["running"] == 0 and state["waiting"] == 0:
            return state  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError(f"engine still busy: {state}")


def _run(server: Server, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "glmserve", "run", "--base-url", server.zai_base, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_prints_plain_text_to_a_pipe(chat_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = chat_server
    result = _run(server, "glm-4.7", "hi there")
    assert result.returncode == 0, result.stderr
    assert result.stdout == GREETING + "\n"  # the Markdown as written: no ANSI, no reasoning
    assert "\x1b" not in result.stdout + result.stderr
    assert GREETING_THOUGHT not in result.stdout + result.stderr

    piped = _run(server, "glm-4.7", "--reasoning", stdin="hi there from stdin\n")
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout == GREETING + "\n"
    assert piped.stderr == GREETING_THOUGHT + "\n"  # the reasoning, asked for, on stderr


def test_run_in_a_terminal_renders_markdown_and_folds_reasoning(chat_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = chat_server
    child = pexpect.spawn(
        sys.executable,
        ["-m", "glmserve", "run", "--base-url", server.zai_base, "glm-4.7", "hi there"],
        env=_terminal_env(),
        dimensions=(ROWS, COLUMNS),
        encoding="utf-8",
        timeout=90,
    )
    child.expect(pexpect.EOF)
    child.close()
    screen = pyte.Screen(COLUMNS, ROWS)
    pyte.Stream(screen).feed(child.before)
    text = "\n".join(line.rstrip() for line in screen.display)
    assert child.exitstatus == 0
    assert "▸ thought for" in text and "--reasoning shows it" in text
    assert GREETING_THOUGHT not in text
    assert "print('hi')" in text and "```" not in text


def test_run_reports_errors_plainly(chat_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = chat_server
    result = _run(server, "no-such-model", "hi")
    assert result.returncode == 1
    assert result.stderr.startswith("glmserve: HTTP 400") and "no-such-model" in result.stderr
    assert "Traceback" not in result.stderr
    empty = _run(server, "glm-4.7", stdin="")
    assert empty.returncode == 2 and "no prompt" in empty.stderr
