"""Web search and web reader settings: ``[search]``, ``[search.local]``,
``[search.searxng]`` and ``[reader]`` in the config file (docs/search.md).

No back end is configured by default: ``/web_search`` and the chat tool then answer an
error naming ``[search] backend`` rather than an empty result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = [
    "LocalSearchSettings",
    "ReaderFile",
    "ReaderSettings",
    "SearchFile",
    "SearchSettings",
    "SearxngSettings",
]

MB = 1024 * 1024
SearchBackend = Literal["none", "local", "searxng"]


@dataclass(frozen=True)
class LocalSearchSettings:
    paths: tuple[Path, ...] = ()
    """Folders of .md, .txt, .html and .pdf files, indexed at start-up."""
    base_url: str | None = None
    """A file's link is ``base_url`` + its path under its folder (else a file:// URL)."""
    index_path: Path | None = None
    """The SQLite index file (None: in memory, rebuilt at each start)."""
    rescan_seconds: float = 5.0
    """How often, at most, the folders are checked for changed files (on a search)."""


@dataclass(frozen=True)
class SearxngSettings:
    url: str = ""
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class SearchSettings:
    backend: SearchBackend = "none"
    local: LocalSearchSettings = LocalSearchSettings()
    searxng: SearxngSettings = SearxngSettings()


@dataclass(frozen=True)
class ReaderSettings:
    allow_private_urls: bool = False
    """Read URLs whose host resolves to loopback, private or link-local addresses."""
    timeout_seconds: float = 20.0
    """Z.AI's default ``timeout``; a request may ask for less, or more up to 60."""
    max_bytes: int = 10 * MB
    max_redirects: int = 3
    cache_entries: int = 256
    """Pages kept (least recently read dropped first); 0: no cache."""
    cache_seconds: float = 600.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _LocalFile(_Strict):
    paths: list[str] = Field(default_factory=list)
    base_url: str | None = None
    index_path: str | None = None
    rescan_seconds: float = Field(default=5.0, ge=0, le=86400)

    @field_validator("base_url")
    @classmethod
    def _url_shape(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"https?://\S+", value):
            raise ValueError("must be an http(s) URL, e.g. 'https://docs.example.com/'")
        return value


class _SearxngFile(_Strict):
    url: str = ""
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _url_shape(cls, value: str) -> str:
        if value and not re.fullmatch(r"https?://\S+", value):
            raise ValueError("must be the SearXNG instance's http(s) URL")
        return value


class SearchFile(_Strict):
    """``[search]``: see SearchSettings."""

    backend: SearchBackend = "none"
    local: _LocalFile = Field(default_factory=_LocalFile)
    searxng: _SearxngFile = Field(default_factory=_SearxngFile)

    def settings(self, base: Path | None) -> SearchSettings:
        """``base``: the config file's folder, which relative paths are read from."""
        if self.backend == "local" and not self.local.paths:
            raise ValueError("[search] backend = 'local' needs [search.local] paths")
        if self.backend == "searxng" and not self.searxng.url:
            raise ValueError("[search] backend = 'searxng' needs [search.searxng] url")

        def resolve(text: str) -> Path:
            path = Path(text).expanduser()
            return path if path.is_absolute() or base is None else base / path

        local = LocalSearchSettings(
            paths=tuple(resolve(p) for p in self.local.paths),
            base_url=self.local.base_url,
            index_path=resolve(self.local.index_path) if self.local.index_path else None,
            rescan_seconds=self.local.rescan_seconds,
        )
        searxng = SearxngSettings(self.searxng.url.rstrip("/"), self.searxng.timeout_seconds)
        return SearchSettings(self.backend, local, searxng)


class ReaderFile(_Strict):
    """``[reader]``: see ReaderSettings."""

    allow_private_urls: bool = False
    timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    max_bytes: int = Field(default=10 * MB, ge=1)
    max_redirects: int = Field(default=3, ge=0, le=20)
    cache_entries: int = Field(default=256, ge=0, le=100000)
    cache_seconds: float = Field(default=600.0, ge=0)

    def settings(self) -> ReaderSettings:
        return ReaderSettings(**self.model_dump())
