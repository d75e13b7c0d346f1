"""End-to-end fixtures: a server on the scripted GLM model (tests/support/scripted_glm.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.support.scripted_glm import Script, build_scripted_glm

GlmServer = Callable[[Sequence[Script]], tuple[Server, Path]]


@pytest.fixture
def glm(tmp_path: Path) -> Iterator[GlmServer]:
    """Start a server whose glm-4.7 writes ``scripts`` (the prompt chooses which one);
    it also returns the file where the server logs each rendered prompt."""
    servers: list[Server] = []

    def start(scripts: Sequence[Script]) -> tuple[Server, Path]:
        gguf = build_scripted_glm(tmp_path / f"scripted-glm-{len(servers)}.gguf", scripts).path
        config = tmp_path / "glmserve.toml"
        config.write_text(
            "[server]\ndefault_model = false\n\n"
            f'[platform]\nopen = true\ndata_dir = "{tmp_path / "data"}"\n\n'
            f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\ncontext_size = 2048\n'
        )
        prompts = tmp_path / "prompts.jsonl"
        env = {"GLMSERVE_PROMPT_LOG": str(prompts)}  # the documented prompt log setting
        servers.append(Server(config, tmp_path / "server.log", env=env))
        return servers[-1], prompts

    yield start
    for server in servers:
        server.stop()


ADMIN_KEY = "hardening-admin-key-0123456789"
HARDENED_LIMITS = {
    "max_body_bytes": 1024 * 1024,
    "max_json_depth": 64,
    "max_messages": 1000,
    "max_message_chars": 100_000,
    "max_total_chars": 200_000,
    "header_timeout_seconds": 2.0,
    "body_timeout_seconds": 2.0,
    "max_connections_per_client": 32,
}
HARDENED_CORS_ORIGIN = "https://console.example"


@pytest.fixture(scope="session")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The embedded default model behind small ``[http]`` limits (the hardening tests): open
    access, an admin key, answers of at most 4 tokens so fuzzing stays quick."""
    tmp = tmp_path_factory.mktemp("hardened")
    config = tmp / "glmserve.toml"
    limits = "\n".join(f"{k} = {v!r}" for k, v in HARDENED_LIMITS.items())
    config.write_text(
        f'[platform]\nopen = true\nadmin_key = "{ADMIN_KEY}"\ndata_dir = "{tmp / "data"}"\n\n'
        f'[http]\n{limits}\ncors_origins = ["{HARDENED_CORS_ORIGIN}"]\n\n'
        '[[models]]\ncode = "gemma-3-270m"\nmax_tokens = 4\ndefault_max_tokens = 2\n'
        "context_size = 1024\n"
    )
    srv = Server(config, tmp / "server.log")
    yield srv
    srv.stop()
