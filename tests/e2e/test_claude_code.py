"""Claude Code against glmserve: the requests it sends, and the real client end to end.

The model is the scripted GLM model (tests/support/scripted_glm.py): GLM-4.7's template
and special tokens, weights that make the real engine write a scripted answer. Claude
Code itself is the pinned npm package that scripts/install-claude-code.sh keeps in the
user's cache; it runs in print mode with a home of its own, and its environment points it
at this server alone, with its nonessential traffic (telemetry, error reports, update
checks) turned off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.support.scripted_glm import Script, build_scripted_glm

REPO = Path(__file__).resolve().parents[2]
CAPTURED = REPO / "tests" / "protocol" / "claude_code"


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[Any]:
    """Start a server whose glm-4.7 writes ``scripts``, with the given context size."""
    servers: list[Server] = []

    def start(scripts: Sequence[Script], context_size: int) -> Server:
        gguf = build_scripted_glm(tmp_path / "scripted-glm.gguf", scripts).path
        config = tmp_path / "glmserve.toml"
        config.write_text(
            "[server]\ndefault_model = false\n\n"
            f'[platform]\nopen = true\ndata_dir = "{tmp_path / "data"}"\n\n'
            f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\ncontext_size = {context_size}\n'
        )
        servers.append(Server(config, tmp_path / "server.log"))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _post(server: Server, fixture: dict[str, Any], path: str, body: dict[str, Any]) -> Any:
    headers = {**fixture["headers"], "authorization": "Bearer any"}
    url = f"{server.base}{path}"
    return httpx.post(url, params=fixture["query"], headers=headers, json=body, timeout=120)


def test_captured_requests_are_answered(scripted: Any) -> None:
    """Each request captured from Claude Code (tests/protocol/claude_code/), sent as it was:
    its headers, ``?beta=true``, a stream of Anthropic events in return."""
    # The session-title request asks for JSON (output_config.format): a grammar holds
    # the answer to its schema, which the title script meets.
    title = Script('{"title": "Say hello"}<|user|>', when="<session>")
    server = scripted([title, Script("Done.<|user|>")], 8192)
    for path in sorted(CAPTURED.glob("*.json")):
        fixture = json.loads(path.read_text())
        response = _post(server, fixture, fixture["path"], fixture["body"])
        assert response.status_code == 200, (path.name, response.text)
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [
            json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
        ]
        kinds = [e["type"] for e in events]
        assert kinds[0] == "message_start" and kinds[-1] == "message_stop", path.name
        assert "content_block_delta" in kinds and "error" not in kinds, path.name
        if path.stem == "session_title":
            deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
            text = "".join(d.get("text", "") for d in deltas)
            assert json.loads(text) == {"title": "Say hello"}


def test_prompt_over_the_context_is_refused_in_anthropics_words(scripted: Any) -> None:
    server = scripted([Script("Done.<|user|>")], 2048)
    fixture = json.loads((CAPTURED / "first_turn.json").read_text())
    body = fixture["body"]
    counted = _post(
        server,
        fixture,
        "/api/anthropic/v1/messages/count_tokens",
        {k: v for k, v in body.items() if k not in ("max_tokens", "stream")},
    )
    tokens = counted.json()["input_tokens"]
    assert tokens > 2048
    refused = _post(server, fixture, fixture["path"], body)
    assert refused.status_code == 400
    assert refused.json() == {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "message": f"prompt is too long: {tokens} tokens > 2048 maximum",
        },
    }


# --- the real Claude Code -----------------------------------------------------------


@pytest.fixture(scope="session")
def claude() -> Path:
    """The pinned Claude Code, installed into the cache on first use."""
    if shutil.which("npm") is None:
        pytest.skip("npm (Node.js 18+) is needed to install Claude Code")
    script = REPO / "scripts" / "install-claude-code.sh"
    done = subprocess.run([str(script)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return Path(done.stdout.strip())


def _claude_env(home: Path, server: Server) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "TERM", "TMPDIR")}
    return {
        **keep,
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(home / ".claude"),
        "ANTHROPIC_BASE_URL": f"{server.base}/api/anthropic",
        "ANTHROPIC_AUTH_TOKEN": "any",
        "API_TIMEOUT_MS": "600000",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_TELEMETRY": "1",
        "DISABLE_ERROR_REPORTING": "1",
    }


PLAN = "I will write the file with the Write tool."
DONE = "The file is written."
ANSWER = "I wrote hello.txt for you."


def test_claude_code_writes_a_file_and_answers(claude: Path, scripted: Any, tmp_path: Path) -> None:
    """``claude -p``: GLM thinks and calls Write, Claude Code writes the file and sends
    the result back, GLM thinks again and answers."""
    work = tmp_path / "work"
    work.mkdir()
    target = work / "hello.txt"
    call = (
        f"{PLAN}</think><tool_call>Write<arg_key>file_path</arg_key><arg_value>{target}"
        "</arg_value><arg_key>content</arg_key><arg_value>hello from GLM\n</arg_value>"
        "</tool_call><|observation|>"
    )
    answer = f"{DONE}</think>{ANSWER}<|user|>"
    # The tool result's <tool_response> selects the answer; otherwise the call.
    server = scripted([Script(answer, when="<tool_response>"), Script(call)], 32768)
    # The prompt before --allowedTools, which takes every argument after it.
    args = ["-p", "Write hello.txt", "--allowedTools", "Write"]
    done = subprocess.run(
        [str(claude), *args, "--output-format", "stream-json", "--verbose"],
        cwd=work,
        env=_claude_env(tmp_path / "home", server),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert target.read_text() == "hello from GLM\n"
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    result = events[-1]
    assert result["type"] == "result" and result["subtype"] == "success"
    assert result["result"] == ANSWER and result["is_error"] is False
    blocks = [b for e in events if e["type"] == "assistant" for b in e["message"]["content"]]
    assert [b["type"] for b in blocks] == ["thinking", "tool_use", "thinking", "text"]
    first, use, second, text = blocks
    assert (first["thinking"], second["thinking"], text["text"]) == (PLAN, DONE, ANSWER)
    assert first["signature"] and second["signature"] != first["signature"]
    assert use["name"] == "Write"
    assert use["input"] == {"file_path": str(target), "content": "hello from GLM\n"}
    log = server.output()
    assert "HEAD /api/anthropic HTTP" in log
    assert log.count('POST /api/anthropic/v1/messages?beta=true HTTP/1.1" 200') == 2
