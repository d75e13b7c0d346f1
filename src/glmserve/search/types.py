"""The search interface: a query in, ranked hits out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol
from urllib.parse import urlsplit

__all__ = ["BackendDown", "Hit", "SearchBackend", "SearchQuery", "host_matches"]


class BackendDown(Exception):
    """The back end could not answer (unreachable, an error, not JSON); the message
    names it, for the log."""


@dataclass(frozen=True)
class SearchQuery:
    text: str
    count: int = 10
    domain: str | None = None
    """Only links on this host (or its subdomains)."""
    recency_days: int | None = None
    """Only documents published within this many days (None: no limit)."""
    content_size: Literal["medium", "high"] = "medium"
    include_image: bool = False


@dataclass(frozen=True)
class Hit:
    title: str
    link: str
    content: str
    media: str = ""
    """The site's name."""
    icon: str = ""
    publish_date: str = ""
    """YYYY-MM-DD, or "" when unknown."""
    images: tuple[str, ...] = ()


class SearchBackend(Protocol):
    name: str
    """What the log and the errors call it ("local index", "SearXNG at ...")."""

    def search(self, query: SearchQuery) -> list[Hit]:
        """At most ``query.count`` hits, best first; raises BackendDown."""
        ...

    def close(self) -> None: ...


def host_matches(link: str, domain: str) -> bool:
    """``link``'s host is ``domain`` or one of its subdomains."""
    try:
        host = (urlsplit(link).hostname or "").lower().rstrip(".")
        wanted = domain.lower().strip().rstrip(".")
        if "://" in wanted:
            wanted = (urlsplit(wanted).hostname or "").lower()
    except ValueError:  # not a URL: nothing matches it
        return False
    return bool(wanted) and (host == wanted or host.endswith("." + wanted))
