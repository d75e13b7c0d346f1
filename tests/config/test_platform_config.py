"""The platform's settings: defaults, the file's sections, the environment, bad values."""

from pathlib import Path

import pytest

from glmserve.config import ConfigError, load_settings


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    path = tmp_path / "glmserve.toml"
    path.write_text(text)
    return load_settings(path, environ=env or {}).platform


def test_defaults(tmp_path: Path) -> None:
    platform = _load(tmp_path, "")
    assert platform.database_url is None and platform.redis_url is None
    assert not platform.open_access and platform.admin_key is None
    limits = platform.limits
    assert [limits.for_key(t, "m").concurrency for t in ("V0", "V1", "V2", "V3")] == [
        5,
        10,
        15,
        20,
    ]
    assert limits.for_key("V0", "m").rpm == 0 and limits.for_key("V0", "m").daily == 0


def test_file_sections_and_environment(tmp_path: Path) -> None:
    text = (
        '[platform]\ndatabase_url = "sqlite:///x.db"\nopen = true\ntask_workers = 0\n'
        "[limits]\nlease_seconds = 5\n[limits.V0]\nconcurrency = 2\nrpm = 60\ndaily = 1000\n"
        '[limits.models."glm-4.7"]\nV1 = 3\n'
    )
    env = {
        "GLMSERVE_DATABASE_URL": "postgresql://db/glm",
        "GLMSERVE_REDIS_URL": "redis://r:6379/0",
        "GLMSERVE_ADMIN_KEY": "a" * 20,
        "GLMSERVE_OPEN": "0",
    }
    platform = _load(tmp_path, text, env)
    assert platform.database_url == "postgresql://db/glm"  # the environment wins
    assert platform.redis_url == "redis://r:6379/0" and platform.admin_key == "a" * 20
    assert platform.open_access is False and platform.task_workers == 0
    v0 = platform.limits.for_key("V0", "any")
    assert (v0.concurrency, v0.rpm, v0.daily) == (2, 60, 1000)
    assert platform.limits.for_key("V1", "glm-4.7").concurrency == 3
    assert platform.limits.lease_seconds == 5


@pytest.mark.parametrize(
    ("text", "env", "message"),
    [
        ("[limits.V4]\nconcurrency = 1\n", {}, "limits.V4: unknown key"),
        ("[limits.V0]\nconcurrency = -1\n", {}, "limits.V0.concurrency"),
        ("[platform]\nredis = 'x'\n", {}, "platform.redis: unknown key"),
        ("[platform]\nadmin_key = 'short'\n", {}, "platform.admin_key"),
        ('[limits.models."glm-4.7"]\nV7 = 1\n', {}, "V7: unknown key"),
        ("", {"GLMSERVE_ADMIN_KEY": "short"}, "at least 16 characters"),
        ("", {"GLMSERVE_OPEN": "maybe"}, "GLMSERVE_OPEN"),
    ],
)
def test_bad_values_are_config_errors(
    tmp_path: Path, text: str, env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
        _load(tmp_path, text, env)
