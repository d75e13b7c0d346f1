"""End-to-end fixtures: a server on a tiny model that speaks GLM's format."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Server
from tests.e2e.tiny_glm import build

TEMPLATE = Path("/work/shared/glm/templates/glm-4.7.jinja")

GlmServer = Callable[[list[str]], tuple[Server, Path]]


@pytest.fixture
def glm(tmp_path: Path) -> Iterator[Callable[[list[str]], tuple[Server, Path]]]:
    """Start a server on the tiny GLM model that will say ``outputs``, one per request."""
    servers: list[Server] = []
    gguf = build(tmp_path / "tiny-glm.gguf", TEMPLATE.read_text())

    def start(outputs: list[str]) -> tuple[Server, Path]:
        (tmp_path / "outputs.json").write_text(json.dumps(outputs))
        config = tmp_path / "glmserve.toml"
        config.write_text(
            "[server]\ndefault_model = false\n\n"
            f'[platform]\nopen = true\ndata_dir = "{tmp_path / "data"}"\n\n'
            f'[[models]]\ncode = "glm-4.7"\ngguf = "{gguf}"\ncontext_size = 2048\n'
        )
        prompts = tmp_path / "prompts.jsonl"
        env = {
            "GLMSERVE_TEST_FORCED_OUTPUTS": str(tmp_path / "outputs.json"),
            "GLMSERVE_PROMPT_LOG": str(prompts),
        }
        servers.append(Server(config, tmp_path / "server.log", env=env))
        return servers[-1], prompts

    yield start
    for server in servers:
        server.stop()
