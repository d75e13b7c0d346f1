"""Generated images and videos as files: stored in the file store (the data dir or S3,
as batch files are) under the creating key, served at ``/media/{file_id}`` with an
expiring signature (or, with ``signed_urls = false``, to the creating key only), and
purged once expired (docs/images.md, "Results")."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from typing import Literal

from glmserve.config.images import ImageSettings
from glmserve.errors import FileNotFound
from glmserve.platform.files import Files, new_file_id
from glmserve.platform.keys import KeyService
from glmserve.store import FileRow

__all__ = ["MEDIA_PATH", "MediaResults", "RESULT_PURPOSE"]

log = logging.getLogger(__name__)

RESULT_PURPOSE = "generation"
"""The purpose of result files (they list under ``GET /files?purpose=generation``)."""
MEDIA_PATH = "/api/paas/v4/media/"
_TYPES = {"png": "image/png", "mp4": "video/mp4"}
_PURGE_EVERY = 600.0


class MediaResults:
    def __init__(self, files: Files, keys: KeyService, settings: ImageSettings) -> None:
        self._files = files
        self._keys = keys
        self._settings = settings
        self._purger: asyncio.Task[None] | None = None

    async def store(self, key_id: str, data: bytes, ext: Literal["png", "mp4"]) -> FileRow:
        row = FileRow(
            id=new_file_id(),
            key_id=key_id,
            filename=f"generated.{ext}",
            purpose=RESULT_PURPOSE,
            bytes=len(data),
            created_at=int(time.time()),
        )
        await self._files.save(row, data)
        return row

    def url(self, base: str, row: FileRow) -> str:
        """Where the file is read: signed until it expires, or plain (the key's only)."""
        url = f"{base.rstrip('/')}{MEDIA_PATH}{row.id}"
        if not self._settings.signed_urls:
            return url
        expires = row.created_at + self._settings.url_ttl_seconds
        return f"{url}?expires={expires}&signature={self._signature(row.id, expires)}"

    async def read(
        self,
        file_id: str,
        expires: str | None,
        signature: str | None,
        key_id: str | None,
    ) -> tuple[bytes, str]:
        """The bytes and media type of a result: with a valid signature, or for the key
        that made it; anything else is reported as a file that does not exist."""
        row = await self._files.get(file_id)
        if row is None or row.purpose != RESULT_PURPOSE or self._expired(row):
            raise FileNotFound(file_id)
        if not (self._signed(row, expires, signature) or key_id == row.key_id):
            raise FileNotFound(file_id)
        data = await self._files.read(row)
        return data, _TYPES.get(row.filename.rsplit(".", 1)[-1], "application/octet-stream")

    def signed_only(self) -> bool:
        return self._settings.signed_urls

    # -- expiry --

    async def start(self) -> None:
        self._purger = asyncio.get_running_loop().create_task(self._purge_forever())

    async def stop(self) -> None:
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
            self._purger = None

    async def purge(self) -> int:
        """Delete every expired result; how many."""
        cutoff = int(time.time()) - self._settings.url_ttl_seconds
        removed = 0
        while True:
            rows = await self._files.older(RESULT_PURPOSE, cutoff, 500)
            for row in rows:
                await self._files.remove(row.id)
            removed += len(rows)
            if len(rows) < 500:
                return removed

    async def _purge_forever(self) -> None:
        while True:
            try:
                await self.purge()
            except Exception:
                log.warning("purging expired image and video results failed", exc_info=True)
            await asyncio.sleep(_PURGE_EVERY)

    # -- signatures --

    def _expired(self, row: FileRow) -> bool:
        return time.time() >= row.created_at + self._settings.url_ttl_seconds

    def _signature(self, file_id: str, expires: int) -> str:
        return self._keys.sign(f"media:{file_id}:{expires}")

    def _signed(self, row: FileRow, expires: str | None, signature: str | None) -> bool:
        if not self._settings.signed_urls or not expires or not signature:
            return False
        if not expires.isdigit() or int(expires) <= time.time():
            return False
        expected = self._signature(row.id, int(expires))
        return hmac.compare_digest(expected.encode(), signature.encode())
