"""Files: ``POST /files``, ``GET /files``, ``GET /files/{id}``, ``DELETE /files/{id}`` and
``GET /files/{id}/content``.

A file belongs to the key that uploaded it (or to the key whose batch produced it);
any other key is told it does not exist (404). The metadata is in the database, the
bytes in an ``ObjectStore`` (filestore.py): the data dir, or S3 for several gateways.
The store's blocking calls run on a small pool of threads of their own, so that file
traffic cannot take the threads other work needs; a download is read from the store and
sent a piece at a time (``stream``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from glmserve.config.batches import FileSettings
from glmserve.errors import FileNotFound, FileTooLarge, InvalidField, MissingField
from glmserve.platform.auth import Principal
from glmserve.platform.filestore import ObjectStore, Reader
from glmserve.store import FileRow, Repository

__all__ = ["Files", "file_body", "UPLOAD_PURPOSES", "OUTPUT_PURPOSE"]

UPLOAD_PURPOSES = ("batch", "agent")
"""What may be uploaded: the files a Z.AI purpose serves here (batch input; agent
glossaries and material, docs/agents.md)."""
AGENT_SUFFIXES = (".txt", ".csv", ".tsv", ".json", ".md")
"""The agents read text files only (a glossary, a brief's material)."""
OUTPUT_PURPOSE = "batch_output"
"""Files a batch writes (its output and error files)."""

_ORDERS = {"created_at": True, "desc": True, "asc": False}

_IO_THREADS = 4
"""Threads that talk to the object store (disk or S3) at once."""
CHUNK = 256 * 1024
"""A download is read and sent this many bytes at a time."""

T = TypeVar("T")


class Files:
    def __init__(self, repository: Repository, store: ObjectStore, settings: FileSettings) -> None:
        self._repo = repository
        self.store = store
        self.settings = settings
        self._io = ThreadPoolExecutor(_IO_THREADS, thread_name_prefix="glmserve-files")

    def close(self) -> None:
        self._io.shutdown(wait=False, cancel_futures=True)

    async def _in_io(self, work: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._io, work, *args)

    async def upload(
        self, caller: Principal, filename: str | None, purpose: str | None, data: bytes
    ) -> dict[str, Any]:
        if not purpose:
            raise MissingField("purpose")
        if filename is None:
            raise MissingField("file")
        if purpose not in UPLOAD_PURPOSES:
            raise InvalidField(
                "purpose",
                f"{purpose!r} is not supported here; supported: {', '.join(UPLOAD_PURPOSES)}.",
            )
        if len(data) > self.settings.max_bytes:
            raise FileTooLarge(self.settings.max_bytes)
        if not data:
            raise InvalidField("file", "the file is empty.")
        if any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in filename):
            # PostgreSQL stores neither; refused alike on every store.
            raise InvalidField("file", "the file name has a NUL character or a lone surrogate.")
        if purpose == "batch" and not filename.lower().endswith(".jsonl"):
            raise InvalidField("file", "a batch file must be a .jsonl file (one request a line).")
        if purpose == "agent" and not filename.lower().endswith(AGENT_SUFFIXES):
            raise InvalidField(
                "file", f"an agent file must be UTF-8 text: {', '.join(AGENT_SUFFIXES)}."
            )
        count = await asyncio.to_thread(self._repo.count_files, caller.key_id, purpose)
        if count >= self.settings.max_files_per_key:
            raise InvalidField(
                "file",
                f"at most {self.settings.max_files_per_key} {purpose} files per key; "
                "delete some first.",
            )
        row = FileRow(
            id=new_file_id(),
            key_id=caller.key_id,
            filename=filename[-512:],
            purpose=purpose,
            bytes=len(data),
            created_at=int(time.time()),
        )
        await self.save(row, data)
        return file_body(row)

    async def save(self, row: FileRow, data: bytes) -> None:
        """Bytes first, then the row: a file that is listed can always be read. Saving
        the same id again replaces the bytes and keeps the row (a batch finalized
        again after a restart)."""
        await self._in_io(self.store.put, row.id, data)
        await asyncio.to_thread(self._repo.create_file, row)

    async def retrieve(self, caller: Principal, file_id: str) -> dict[str, Any]:
        return file_body(await self.own(caller.key_id, file_id))

    async def listing(
        self,
        caller: Principal,
        purpose: str | None,
        limit: int | None,
        after: str | None,
        order: str | None,
    ) -> dict[str, Any]:
        size = 20 if limit is None else limit
        if not 1 <= size <= 100:
            raise InvalidField("limit", "must be between 1 and 100.")
        newest_first = _ORDERS.get(order or "created_at")
        if newest_first is None:
            raise InvalidField("order", "must be created_at, desc or asc.")
        rows = await asyncio.to_thread(
            self._repo.list_files, caller.key_id, purpose or None, after, size + 1, newest_first
        )
        return {
            "object": "list",
            "data": [file_body(r) for r in rows[:size]],
            "has_more": len(rows) > size,
        }

    async def delete(self, caller: Principal, file_id: str) -> dict[str, Any]:
        row = await self.own(caller.key_id, file_id)
        await self.remove(row.id)
        return {"id": row.id, "object": "file", "deleted": True}

    async def remove(self, file_id: str) -> None:
        """The row first: once it is gone, nobody is shown the file any more."""
        if await asyncio.to_thread(self._repo.delete_file, file_id):
            await self._in_io(self.store.delete, file_id)

    async def content(self, caller: Principal, file_id: str) -> tuple[FileRow, Reader]:
        """The file, opened: send it with ``stream``, which closes it."""
        row = await self.own(caller.key_id, file_id)
        try:
            return row, await self._in_io(self.store.open, row.id)
        except KeyError:
            raise FileNotFound(row.id) from None

    async def stream(self, reader: Reader) -> AsyncIterator[bytes]:
        """The opened file's bytes, ``CHUNK`` at a time; it is closed at the end, or when
        the client goes away."""
        try:
            while piece := await self._in_io(reader.read, CHUNK):
                yield piece
        finally:
            reader.close()  # quick (a file or a socket), and safe while cancelled

    async def read(self, row: FileRow) -> bytes:
        try:
            return await self._in_io(self.store.get, row.id)
        except KeyError:
            raise FileNotFound(row.id) from None

    async def get(self, file_id: str) -> FileRow | None:
        """A file's row whoever owns it (callers check ownership themselves)."""
        return await asyncio.to_thread(self._repo.get_file, file_id)

    async def older(self, purpose: str, created_before: int, limit: int) -> list[FileRow]:
        """Files of a purpose, every key's, made before a time (oldest first)."""
        return await asyncio.to_thread(self._repo.old_files, purpose, created_before, limit)

    async def own(self, key_id: str, file_id: str) -> FileRow:
        row = await asyncio.to_thread(self._repo.get_file, file_id)
        # Another key's file is reported exactly like a file that does not exist.
        if row is None or row.key_id != key_id:
            raise FileNotFound(file_id)
        return row


def new_file_id() -> str:
    """Z.AI's shape, ``20240514_ea19d21b-d256-4586-b0df-e80a45e3c286``, with a
    time-ordered UUID (version 7): files of one second still list in upload order."""
    ms = time.time_ns() // 1_000_000
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | secrets.randbits(12) << 64
    value |= 0b10 << 62 | secrets.randbits(62)
    return time.strftime("%Y%m%d", time.gmtime(ms / 1000)) + "_" + str(uuid.UUID(int=value))


def file_body(row: FileRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "file",
        "bytes": row.bytes,
        "created_at": row.created_at,
        "filename": row.filename,
        "purpose": row.purpose,
    }
