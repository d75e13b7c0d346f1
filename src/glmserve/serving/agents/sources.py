"""Web search for the slide agent (docs/agents.md, "Web search"): when the server has a
search back end, a new deck's brief is searched before the outline call; the top results
go into the outline prompt with their titles and links, and the deck ends with a page
listing them. The search is billed as a call of its own (kind "tools"), like the chat
``web_search`` tool. ``custom_variables.web_search: false`` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from glmserve.errors import GlmServeError, InvalidField
from glmserve.platform.admission import Attempt
from glmserve.protocol.web_search import DEFAULT_ENGINE, MAX_QUERY_CHARS, SearchOptions
from glmserve.serving.agents.deck import Deck, Page
from glmserve.serving.web_search.service import WebSearchService

__all__ = ["Source", "SourceSearch", "restored", "sources_page", "sources_prompt", "stored"]

TOP_RESULTS = 5
"""Results the outline call sees and the last page lists."""
SOURCES_TITLE = "Sources"


@dataclass(frozen=True)
class Source:
    title: str
    link: str
    content: str = ""


class SourceSearch:
    def __init__(self, search: WebSearchService | None) -> None:
        self._search = search

    @property
    def configured(self) -> bool:
        return self._search is not None and self._search.configured

    def wanted(self, variables: dict[str, Any], field: str) -> bool:
        """Whether to search: ``web_search`` true or false; absent: when configured.
        Asked for explicitly on a server without a back end, it is refused (1214)."""
        value = variables.get("web_search")
        if value is None:
            return self.configured
        if not isinstance(value, bool):
            raise InvalidField(field, "must be true or false.")
        if value and not self.configured:
            raise InvalidField(field, "this server has no web search back end ([search] backend).")
        return value

    async def find(self, brief: str, attempt: Attempt) -> tuple[Source, ...]:
        """The brief's top results, searched on a record of its own (kind "tools")."""
        search = self._search
        if search is None:
            return ()
        options = SearchOptions(
            engine=DEFAULT_ENGINE, query=brief.strip()[:MAX_QUERY_CHARS], count=TOP_RESULTS
        )
        metered = attempt.sibling("tools")
        try:
            hits = await search.metered_search(options, metered)
        except GlmServeError as exc:
            metered.close(exc)
            raise
        finally:
            metered.close()
        return tuple(Source(h.title or h.link, h.link, h.content) for h in hits[:TOP_RESULTS])


def sources_prompt(sources: tuple[Source, ...]) -> str:
    """The results for the outline prompt, between tags (material, not instructions)."""
    if not sources:
        return ""
    blocks = "\n\n".join(
        f"[{i}] {s.title}\nSource: {s.link}\n{s.content}" for i, s in enumerate(sources, 1)
    )
    return f"\n\n<sources>\n{blocks}\n</sources>"


def sources_page(deck: Deck, sources: tuple[Source, ...]) -> Deck:
    """The deck with a last page listing the sources (unchanged when there are none)."""
    if not sources:
        return deck
    page = Page(SOURCES_TITLE, tuple(f"{s.title}: {s.link}" for s in sources))
    return replace(deck, pages=(*deck.pages, page))


def stored(sources: tuple[Source, ...]) -> list[list[str]]:
    """The sources as the conversation keeps them (later edits keep the page)."""
    return [[s.title, s.link] for s in sources]


def restored(value: Any) -> tuple[Source, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(Source(str(v[0]), str(v[1])) for v in value if len(v) == 2)
