"""The [files] and [batches] sections: defaults, values, environment, bad values."""

from pathlib import Path

import pytest

from glmserve.config import ConfigError, load_settings
from glmserve.config.platform import PlatformSettings


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> PlatformSettings:
    path = tmp_path / "glmserve.toml"
    path.write_text(text)
    return load_settings(path, environ=env or {}).platform


def test_defaults(tmp_path: Path) -> None:
    platform = _load(tmp_path, "")
    assert platform.files.backend == "local" and platform.files.dir is None
    assert platform.files.max_bytes == 100 * 1024 * 1024
    batches = platform.batches
    assert (batches.workers, batches.concurrency, batches.idle_ms) == (1, 4, 200)


def test_s3_from_the_file_and_the_environment(tmp_path: Path) -> None:
    text = '[files]\nbackend = "s3"\ns3_bucket = "b"\ns3_endpoint = "http://minio:9000"\n'
    files = _load(tmp_path, text, {"GLMSERVE_S3_ACCESS_KEY": "ak", "GLMSERVE_S3_BUCKET": "e"}).files
    assert (files.s3_bucket, files.s3_endpoint, files.s3_access_key) == (
        "e",
        "http://minio:9000",
        "ak",
    )
    settings = _load(tmp_path, "[batches]\nconcurrency = 2\nlease_seconds = 5\n").batches
    assert (settings.concurrency, settings.lease_seconds) == (2, 5)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[files]\nbackend = "s3"\n', "s3_bucket"),
        ('[files]\nbackend = "s3"\ns3_bucket = "b"\ns3_endpoint = "minio:9000"\n', "s3_endpoint"),
        ("[batches]\nconcurrency = 0\n", "batches.concurrency"),
        ('[files]\nbackend = "ftp"\n', "files.backend"),
        ("[batches]\nspeed = 1\n", "unknown key"),
    ],
)
def test_bad_values_stop_the_start(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _load(tmp_path, text)
