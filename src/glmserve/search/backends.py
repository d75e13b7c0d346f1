"""The configured search back end ([search] backend, docs/search.md)."""

from __future__ import annotations

from glmserve.config.search import SearchSettings
from glmserve.search.local import LocalIndex
from glmserve.search.searxng import Searxng
from glmserve.search.types import SearchBackend

__all__ = ["open_backend"]


def open_backend(settings: SearchSettings, *, progress: bool = True) -> SearchBackend | None:
    """The back end, ready (a local index is built here); None when none is configured."""
    if settings.backend == "local":
        return LocalIndex(settings.local, progress=progress)
    if settings.backend == "searxng":
        return Searxng(settings.searxng)
    return None
