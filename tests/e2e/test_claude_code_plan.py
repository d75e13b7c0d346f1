"""The real Claude Code on a Coding Plan key: its first prompt (a tool loop: Write, then
the answer) counts once, and its next prompt is refused with 1308, whose message Claude
Code shows. The pinned Claude Code and its environment are test_claude_code.py's."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_claude_code import ANSWER, DONE, PLAN, _claude_env, claude  # noqa: F401
from tests.platform.gateway import Gateway, write_config
from tests.support.scripted_glm import Script, build_scripted_glm


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[tuple[Gateway, Path]]:
    work = tmp_path / "work"
    work.mkdir()
    call = (
        f"{PLAN}</think><tool_call>Write<arg_key>file_path</arg_key><arg_value>"
        f"{work / 'hello.txt'}</arg_value><arg_key>content</arg_key><arg_value>hi\n"
        "</arg_value></tool_call><|observation|>"
    )
    answer = f"{DONE}</think>{ANSWER}<|user|>"
    scripts = [Script(answer, when="<tool_response>"), Script(call)]
    gguf = build_scripted_glm(tmp_path / "glm.gguf", scripts).path
    extra = '[[plans]]\nname = "solo"\nprompts_per_5h = 1\nprompts_per_week = 10\n'
    config = write_config(tmp_path / "glmserve.toml", gguf, tmp_path / "data", extra=extra)
    text = config.read_text().replace("context_size = 2048", "context_size = 32768")
    config.write_text(text)
    server = Gateway(config, tmp_path / "server.log")
    yield server, work
    server.stop()


def _claude(claude: Path, server: Gateway, key: str, work: Path, home: Path, prompt: str):  # type: ignore[no-untyped-def]  # noqa: F811
    env = {**_claude_env(home, server), "ANTHROPIC_AUTH_TOKEN": key}
    args = ["-p", prompt, "--allowedTools", "Write", "--output-format", "stream-json"]
    return subprocess.run(
        [str(claude), *args, "--verbose"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_claude_code_shows_the_quota_message(
    claude: Path,  # noqa: F811
    gateway: tuple[Gateway, Path],
    tmp_path: Path,
) -> None:
    server, work = gateway
    key = server.create_key("V3")
    assert server.admin("POST", f"/keys/{key.split('.')[0]}/plan", json={"plan": "solo"}).is_success
    home = tmp_path / "home"
    first = _claude(claude, server, key, work, home, "Write hello.txt")
    assert first.returncode == 0, first.stdout + first.stderr
    assert (work / "hello.txt").read_text() == "hi\n"
    events = [json.loads(line) for line in first.stdout.splitlines() if line.startswith("{")]
    assert events[-1]["result"] == ANSWER
    usage = server.admin("GET", f"/keys/{key.split('.')[0]}/plan").json()
    assert usage["windows"]["five_hour"]["used"] == 1  # the tool loop counted once
    second = _claude(claude, server, key, work, home, "Write it again")
    shown = second.stdout + second.stderr
    assert "Usage limit reached for solo. Your limit will reset at" in shown, shown
    assert second.returncode != 0 or '"is_error":true' in second.stdout.replace(" ", "")
