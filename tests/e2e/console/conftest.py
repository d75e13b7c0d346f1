"""The web console's browser tests: a real glmserve (keys required, an admin key) on the
scripted GLM model, a real llama-server worker behind a second model (and a worker
address where nothing answers), and the system's headless Chromium driven by Playwright.

Each test saves a screenshot of its page into docs/console/, which docs/console.md shows.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, free_port
from tests.search.corpus import write_corpus
from tests.support.scripted_glm import Script, build_scripted_glm
from tests.support.workers import Worker, llama_server_worker

ADMIN_KEY = "console-admin-key-for-tests"
SHOTS = Path(__file__).resolve().parents[3] / "docs" / "console"

REASONING = "The user says hello. I will greet them back briefly."
ANSWER = "Hello! I am the scripted model, streaming token by token."
TOOL_REASONING = "The user wants the weather in Paris. I will call the tool."
TOOL_ARGUMENTS = {"city": "Paris", "days": 2}
TOOL_RESULT_ANSWER = "It is 21 °C and sunny in Paris."
SCRIPTS = [
    Script(f"Got the weather.</think>{TOOL_RESULT_ANSWER}<|user|>", when="<tool_response>"),
    Script(
        f"{TOOL_REASONING}</think><tool_call>get_weather<arg_key>city</arg_key>"
        "<arg_value>Paris</arg_value><arg_key>days</arg_key><arg_value>2</arg_value>"
        "</tool_call><|observation|>",
        when="weather",
    ),
    # A thinking budget closes the block itself: the prompt then holds </think> (the
    # scripted model cannot go on mid-script; see tests/e2e/test_thinking_budget.py).
    Script(f"{ANSWER}<|user|>", when="</think>"),
    Script(f"{REASONING}</think>{ANSWER}<|user|>"),
]
WEATHER_TOOL = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather of a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    }
]


def _chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    why = "the system Chromium is not installed (Debian: apt-get install chromium; see .ci/run)"
    if os.environ.get("GLMSERVE_TEST_SERVICES") == "required":
        pytest.fail(why, pytrace=False)
    pytest.skip(why)


@pytest.fixture(scope="session")
def scripted_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("console-gguf") / "scripted-glm.gguf"
    return build_scripted_glm(path, SCRIPTS).path


@pytest.fixture(scope="session")
def worker(scripted_gguf: Path) -> Iterator[Worker]:
    with llama_server_worker(scripted_gguf, ctx_size=2048, parallel=1) as w:
        yield w


@pytest.fixture(scope="session")
def console_config(
    tmp_path_factory: pytest.TempPathFactory, scripted_gguf: Path, worker: Worker
) -> Path:
    """The console server's config file (``glmserve usage --config`` reads its ledger)."""
    tmp = tmp_path_factory.mktemp("console")
    docs = write_corpus(tmp)  # the playground's web search reads these
    nobody = f"http://127.0.0.1:{free_port()}"  # a worker that never answers: health "down"
    config = tmp / "glmserve.toml"
    config.write_text(
        "[server]\ndefault_model = false\n\n"
        f'[platform]\ndata_dir = "{tmp / "data"}"\nadmin_key = "{ADMIN_KEY}"\n\n'
        f'[[models]]\ncode = "glm-4.7"\ngguf = "{scripted_gguf}"\ncontext_size = 2048\n\n'
        f'[[models]]\ncode = "glm-4.7-remote"\nengine = "remote"\n'
        f'tokenizer = "{scripted_gguf}"\ncontext_size = 1024\n'
        f'[[models.workers]]\nurl = "{worker.base}"\nkind = "llama-server"\n'
        f'[[models.workers]]\nurl = "{nobody}"\nkind = "llama-server"\n\n'
        f'[search]\nbackend = "local"\n[search.local]\npaths = ["{docs}"]\n'
        'base_url = "https://docs.example.com/"\n'
    )
    return config


@pytest.fixture(scope="session")
def console_server(console_config: Path) -> Iterator[Server]:
    server = Server(console_config, console_config.parent / "server.log")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh tab with its own sessionStorage (nobody signed in)."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    # Script errors and anything the Content-Security-Policy blocked fail the test.
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield tab
    context.close()
    assert errors == []


def sign_in(page: Any, server: Server, key: str, path: str = "playground") -> None:
    page.goto(f"{server.base}/console/{path}")
    page.fill("#sign-in-key", key)
    page.click("#sign-in-form button")
    page.wait_for_selector("#content:not([hidden])")


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
