"""Where the bytes of uploaded and produced files live, behind one small interface.

``LocalStore``: a folder (``files/`` in the data dir by default), written atomically.
``S3Store``: an S3-compatible object store (AWS S3, MinIO, Ceph...), for several gateway
replicas that must all read every file. The file's metadata is in the database
(store/); a store holds only bytes under the file's id. Methods block: call them off
the event loop. ``open`` reads a file as a stream, a piece at a time (a download never
holds a whole file in memory: docs/api.md, "Files").
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from glmserve.config.batches import FileSettings
from glmserve.store import StoreError, private_dir

__all__ = [
    "ObjectStore",
    "Reader",
    "LocalStore",
    "S3Store",
    "open_object_store",
    "StorageError",
]

_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")


class StorageError(StoreError):
    """The object store cannot be reached or refused an operation."""


class Reader(Protocol):
    """An open stored file: read it a piece at a time, then close it."""

    size: int

    def read(self, size: int) -> bytes:
        """At most ``size`` bytes; b"" at the end."""
        ...

    def close(self) -> None: ...


class ObjectStore(Protocol):
    def put(self, name: str, data: bytes) -> None: ...
    def get(self, name: str) -> bytes:
        """The bytes; raises KeyError if there is no such object."""
        ...

    def open(self, name: str) -> Reader:
        """The object as a stream; raises KeyError if there is no such object."""
        ...

    def delete(self, name: str) -> None:
        """Remove it; no error if it is not there."""
        ...


def _checked(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a storable file name: {name!r}")
    return name


class _LocalReader:
    def __init__(self, file: BinaryIO) -> None:
        self._file = file
        self.size = os.fstat(file.fileno()).st_size

    def read(self, size: int) -> bytes:
        return self._file.read(size)

    def close(self) -> None:
        self._file.close()


class _S3Reader:
    def __init__(self, answer: dict[str, Any], errors: tuple[type[Exception], ...]) -> None:
        self._body = answer["Body"]
        self.size = int(answer.get("ContentLength") or 0)
        self._errors = errors

    def read(self, size: int) -> bytes:
        try:
            data: bytes = self._body.read(size)
            return data
        except self._errors as exc:
            raise StorageError(f"reading from S3 failed: {exc}") from None

    def close(self) -> None:
        self._body.close()


class LocalStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        private_dir(folder)  # only the server's user may read the tenants' files

    def put(self, name: str, data: bytes) -> None:
        target = self.folder / _checked(name)
        # Write aside, flush to disk, then rename: a crash leaves the old file or the new.
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, name: str) -> bytes:
        try:
            return (self.folder / _checked(name)).read_bytes()
        except FileNotFoundError:
            raise KeyError(name) from None

    def open(self, name: str) -> Reader:
        try:
            return _LocalReader((self.folder / _checked(name)).open("rb"))
        except FileNotFoundError:
            raise KeyError(name) from None

    def delete(self, name: str) -> None:
        (self.folder / _checked(name)).unlink(missing_ok=True)


class S3Store:
    def __init__(self, settings: FileSettings) -> None:
        try:
            import boto3  # type: ignore[import-untyped]
            from botocore.config import Config  # type: ignore[import-untyped]
        except ImportError:
            raise StorageError(
                'files.backend = "s3" needs boto3: pip install "glmserve[s3]"'
            ) from None
        self.bucket = settings.s3_bucket or ""
        self.prefix = settings.s3_prefix
        self._client: Any = boto3.client(
            "s3",
            endpoint_url=settings.s3_endpoint,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key,
            aws_secret_access_key=settings.s3_secret_key,
            config=Config(retries={"max_attempts": 5, "mode": "standard"}),
        )
        self._errors: tuple[type[Exception], ...] = _boto_errors()

    def check(self) -> None:
        """Fail at start-up, with a clear message, rather than on the first upload."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except self._errors as exc:
            raise StorageError(f"cannot use the S3 bucket {self.bucket!r}: {exc}") from None

    def put(self, name: str, data: bytes) -> None:
        try:
            self._client.put_object(Bucket=self.bucket, Key=self._key(name), Body=data)
        except self._errors as exc:
            raise StorageError(f"storing {name} in S3 failed: {exc}") from None

    def get(self, name: str) -> bytes:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._key(name))
            data: bytes = answer["Body"].read()
            return data
        except self._client.exceptions.NoSuchKey:
            raise KeyError(name) from None
        except self._errors as exc:
            raise StorageError(f"reading {name} from S3 failed: {exc}") from None

    def open(self, name: str) -> Reader:
        try:
            answer = self._client.get_object(Bucket=self.bucket, Key=self._key(name))
        except self._client.exceptions.NoSuchKey:
            raise KeyError(name) from None
        except self._errors as exc:
            raise StorageError(f"reading {name} from S3 failed: {exc}") from None
        return _S3Reader(answer, self._errors)

    def delete(self, name: str) -> None:
        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(name))
        except self._errors as exc:
            raise StorageError(f"deleting {name} from S3 failed: {exc}") from None

    def _key(self, name: str) -> str:
        return self.prefix + _checked(name)


def _boto_errors() -> tuple[type[Exception], ...]:
    from botocore.exceptions import (  # type: ignore[import-untyped]
        BotoCoreError,
        ClientError,
    )

    return (BotoCoreError, ClientError)


def open_object_store(settings: FileSettings, data_dir: Path) -> ObjectStore:
    if settings.backend == "s3":
        store = S3Store(settings)
        store.check()
        return store
    return LocalStore(settings.dir or data_dir / "files")
