"""Settings of files and batches: where uploaded files live, and how batches run.

The TOML sections ``[files]`` and ``[batches]`` (docs/configuration.md)::

    [files]
    backend = "s3"                     # "local" (default: the data dir) or "s3"
    s3_endpoint = "http://minio:9000"  # env GLMSERVE_S3_ENDPOINT
    s3_bucket = "glmserve"             # env GLMSERVE_S3_BUCKET
    s3_access_key = "..."              # env GLMSERVE_S3_ACCESS_KEY
    s3_secret_key = "..."              # env GLMSERVE_S3_SECRET_KEY

    [batches]
    concurrency = 4                    # batch lines in flight per gateway
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FilesFile", "BatchesFile", "FileSettings", "BatchSettings", "files_and_batches"]

MB = 1024 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class FilesFile(_Strict):
    backend: Literal["local", "s3"] = "local"
    dir: str | None = None
    max_bytes: int = Field(default=100 * MB, ge=1)
    max_files_per_key: int = Field(default=1000, ge=1)
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = "glmserve/files/"
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None


class BatchesFile(_Strict):
    workers: int = Field(default=1, ge=0, le=64)
    concurrency: int = Field(default=4, ge=1, le=1024)
    max_lines: int = Field(default=50000, ge=1)
    idle_ms: int = Field(default=200, ge=0, le=60000)
    lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    max_open_per_key: int = Field(default=20, ge=1)


@dataclass(frozen=True)
class FileSettings:
    backend: Literal["local", "s3"] = "local"
    dir: Path | None = None
    """local: where files are kept; None: ``files/`` in the data dir."""
    max_bytes: int = 100 * MB
    """Z.AI: a batch file is at most 100 MB."""
    max_files_per_key: int = 1000
    s3_endpoint: str | None = None
    s3_bucket: str | None = None
    s3_prefix: str = "glmserve/files/"
    s3_region: str = "us-east-1"
    s3_access_key: str | None = None
    s3_secret_key: str | None = None


@dataclass(frozen=True)
class BatchSettings:
    workers: int = 1
    """Batches a gateway runs at once (0: this gateway runs none)."""
    concurrency: int = 4
    """Batch lines in flight per gateway, across its batches."""
    max_lines: int = 50000
    """Z.AI: a batch file holds at most 50,000 requests."""
    idle_ms: int = 200
    """A batch line starts on a model only once it has had no interactive request in
    flight for this long; an interactive request that arrives preempts batch lines."""
    lease_seconds: float = 60.0
    """How long a gateway's hold on a running batch lives without renewal: a batch
    whose gateway died is taken up again (by any gateway) after this long."""
    max_open_per_key: int = 20
    """Batches of one key not yet ended (validating, in progress, finalizing,
    cancelling); another is refused with 1302 until one ends."""


def files_and_batches(
    files: FilesFile, batches: BatchesFile, env: Mapping[str, str]
) -> tuple[FileSettings, BatchSettings]:
    """The validated values; the environment (given by load.py) wins over the file."""
    endpoint = env.get("GLMSERVE_S3_ENDPOINT") or files.s3_endpoint
    bucket = env.get("GLMSERVE_S3_BUCKET") or files.s3_bucket
    if files.backend == "s3" and not bucket:
        raise ValueError('files.backend = "s3" needs files.s3_bucket (or GLMSERVE_S3_BUCKET)')
    if endpoint and not endpoint.startswith(("http://", "https://")):
        raise ValueError(f"files.s3_endpoint must be an http(s):// URL, got {endpoint!r}")
    file_settings = FileSettings(
        backend=files.backend,
        dir=Path(files.dir).expanduser() if files.dir else None,
        max_bytes=files.max_bytes,
        max_files_per_key=files.max_files_per_key,
        s3_endpoint=endpoint,
        s3_bucket=bucket,
        s3_prefix=files.s3_prefix,
        s3_region=files.s3_region,
        s3_access_key=env.get("GLMSERVE_S3_ACCESS_KEY") or files.s3_access_key,
        s3_secret_key=env.get("GLMSERVE_S3_SECRET_KEY") or files.s3_secret_key,
    )
    batch_settings = BatchSettings(
        workers=batches.workers,
        concurrency=batches.concurrency,
        max_lines=batches.max_lines,
        idle_ms=batches.idle_ms,
        lease_seconds=batches.lease_seconds,
        max_open_per_key=batches.max_open_per_key,
    )
    return file_settings, batch_settings
