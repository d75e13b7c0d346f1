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
