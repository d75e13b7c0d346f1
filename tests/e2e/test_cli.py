"""The ``glmserve`` command as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import Server


def _glmserve(*args: str, data_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **({"GLMSERVE_DATA_DIR": str(data_dir)} if data_dir else {})}
    return subprocess.run(
        [sys.executable, "-m", "glmserve", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_serve_announces_base_url_and_models(server: Server) -> None:
    out = server.output()
    assert f"Z.AI base URL: http://127.0.0.1:{server.port}/api/paas/v4/" in out
    assert "gemma-3-270m" in out and "built-in:transcript" in out
    assert "glm-4.7" in out


def test_bad_config_exits_with_a_clear_message(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[server]\nport = 8080\nworkers = 4\n[[models]]\ncode = "glm-4.7"\n')
    result = _glmserve("serve", "--config", str(config))
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert "server.workers: unknown key" in result.stderr
    assert "Traceback" not in result.stderr


def test_model_file_that_is_not_gguf_is_a_start_up_error(tmp_path: Path) -> None:
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"not a gguf file at all")
    config = tmp_path / "glmserve.toml"
    config.write_text(f'[server]\ndefault_model = false\n[[models]]\ncode = "x"\ngguf = "{fake}"\n')
    result = _glmserve("serve", "--config", str(config), data_dir=tmp_path / "data")
    assert result.returncode == 2
    assert "cannot load" in result.stderr and str(fake) in result.stderr
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = _glmserve("--version")
    assert result.returncode == 0 and result.stdout.startswith("glmserve ")


def test_start_up_screen_points_at_the_console_without_llama_cpp_noise(server: Server) -> None:
    out = server.output()
    assert f"web console:   http://127.0.0.1:{server.port}/console/" in out
    assert "terminal chat: glmserve chat" in out
    # The embedded default model (Gemma) makes llama.cpp log these as errors at load.
    assert "control-looking token" not in out
    assert "SWA cache" not in out
