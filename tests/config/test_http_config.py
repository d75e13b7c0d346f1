"""The ``[http]`` section: request limits, client timeouts, CORS."""

from pathlib import Path

import pytest

from glmserve.config import ConfigError, HttpSettings, load_settings


def _load(tmp_path: Path, text: str) -> HttpSettings:
    path = tmp_path / "glmserve.toml"
    path.write_text(text)
    return load_settings(path, environ={}).http


def test_defaults_bound_every_request_and_keep_cors_off() -> None:
    http = load_settings(environ={}).http
    assert http == HttpSettings()
    assert http.cors_origins == ()
    assert http.max_body_bytes == 16 * 1024 * 1024
    assert 0 < http.max_json_depth <= 500
    assert http.header_timeout_seconds > 0 and http.body_timeout_seconds > 0
    assert http.max_connections_per_client > 0


def test_values_from_the_file(tmp_path: Path) -> None:
    http = _load(
        tmp_path,
        "[http]\nmax_body_bytes = 2048\nmax_json_depth = 10\nmax_messages = 3\n"
        "header_timeout_seconds = 1.5\nmax_connections_per_client = 0\n"
        'cors_origins = ["https://a.example", "https://b.example"]\n',
    )
    assert (http.max_body_bytes, http.max_json_depth, http.max_messages) == (2048, 10, 3)
    assert http.header_timeout_seconds == 1.5
    assert http.max_connections_per_client == 0
    assert http.cors_origins == ("https://a.example", "https://b.example")


@pytest.mark.parametrize(
    "line",
    [
        "max_body_bytes = 10",
        "max_json_depth = 100000",
        "max_json_depth = 1",
        "header_timeout_seconds = 0",
        "max_connections_per_client = -1",
        'max_messages = "many"',
        "unknown = 1",
        'cors_origins = "https://a.example"',
    ],
)
def test_bad_values_are_start_up_errors(tmp_path: Path, line: str) -> None:
    with pytest.raises(ConfigError, match="http"):
        _load(tmp_path, f"[http]\n{line}\n")
