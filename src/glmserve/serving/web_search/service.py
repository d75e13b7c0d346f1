"""Web search and the web reader, independent of HTTP (docs/search.md).

``WebSearchService.search(body, metered)`` is ``POST /web_search``; ``read(body,
metered)`` is ``POST /reader``; ``run(options)`` is one search for the chat tool, which
meters it itself. Each call is admitted like any request and leaves one ledger record
(kind "tools", model the search_engine code or ``web-reader``) priced per call from the
catalog; a failed call costs nothing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from glmserve.catalog import READER_CODE, TOOLS
from glmserve.config import Settings
from glmserve.errors import EngineFailure, GlmServeError, NotConfigured, SensitiveContent
from glmserve.platform.admission import Admitted, Attempt
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.protocol.chat import ChatCompletionRequest
from glmserve.protocol.web_search import (
    SearchOptions,
    parse_reader_request,
    parse_search_options,
    search_result,
)
from glmserve.safety import SafetyPolicy
from glmserve.search import BackendDown, Hit, SearchBackend, SearchQuery
from glmserve.search.backends import open_backend
from glmserve.serving.run.counted import CountedWork
from glmserve.serving.web_search.grounding import Grounding, grounded_request, search_tools
from glmserve.serving.web_search.reader import MAX_TIMEOUT, Reader

__all__ = ["WebSearchService"]

log = logging.getLogger(__name__)


class WebSearchService:
    def __init__(
        self,
        settings: Settings,
        *,
        progress: bool = True,
        content_filter: SafetyPolicy | None = None,
    ) -> None:
        self._backend: SearchBackend | None = open_backend(settings.search, progress=progress)
        self.reader = Reader(settings.reader)
        self._filter = content_filter
        """Content safety ([safety], docs/safety.md): blocked results are left out, a
        blocked page is 1301."""

    @property
    def configured(self) -> bool:
        return self._backend is not None

    def close(self) -> None:
        self.reader.close()
        if self._backend is not None:
            self._backend.close()

    async def search(self, raw: dict[str, Any], metered: Attempt) -> dict[str, Any]:
        options = parse_search_options(raw)
        hits = await self.metered_search(options, metered)
        return {
            "id": metered.record_id,
            "created": now_seconds(),
            "request_id": options.request_id or metered.record_id,
            "search_intent": [_intent(options)],
            "search_result": search_result(hits),
        }

    async def metered_search(self, options: SearchOptions, metered: Attempt) -> list[Hit]:
        """One search, admitted and recorded on ``metered``."""
        backend = self._backend
        if backend is None:
            raise NotConfigured("web_search", "[search] backend")
        work = await _start(metered, options.engine, options.request_id, options.user_id)
        try:
            hits = await asyncio.to_thread(backend.search, _query(options))
        except BackendDown as exc:
            log.error("web search failed: %s", exc)
            work.end(failed=True)
            raise EngineFailure(
                f"Network error, error id: {metered.record_id}, the search back end failed."
            ) from None
        except BaseException:
            work.end(failed=True)
            raise
        work.prompt_tokens = 1
        work.end()
        return await self._screened(hits)

    async def _screened(self, hits: list[Hit]) -> list[Hit]:
        """The results content safety lets through (docs/safety.md)."""
        if self._filter is None:
            return hits
        kept = []
        for hit in hits:
            verdict = await self._filter.check_text(f"{hit.title}\n{hit.content}")
            if not verdict.blocked:
                kept.append(hit)
        return kept

    async def ground(self, request: ChatCompletionRequest, metered: Attempt) -> Grounding:
        """A chat request with its ``web_search`` tool run: the results in its prompt.
        The search is admitted and recorded on a record of its own (kind "tools")."""
        plan, found = search_tools(request)
        if not found:
            return Grounding(request)
        hits: list[Hit] = []
        if plan is not None:
            if self._backend is None:
                raise NotConfigured("the web_search tool", "[search] backend")
            search = metered.sibling("tools")
            try:
                hits = await self.metered_search(plan.options, search)
            except GlmServeError as exc:
                search.close(exc)
                raise
            finally:
                search.close()
        return grounded_request(request, plan, hits)

    async def read(self, raw: dict[str, Any], metered: Attempt) -> dict[str, Any]:
        request = parse_reader_request(raw, max_timeout=MAX_TIMEOUT)
        work = await _start(metered, READER_CODE, request.request_id, request.user_id)
        try:
            result = await asyncio.to_thread(self.reader.read, request)
        except BaseException:
            work.end(failed=True)
            raise
        work.prompt_tokens = 1
        work.end()
        if self._filter is not None:
            text = f"{result.get('title') or ''}\n{result.get('content') or ''}"
            if (await self._filter.check_text(text)).blocked:
                raise SensitiveContent()
        return {
            "id": metered.record_id,
            "created": now_seconds(),
            "request_id": request.request_id or metered.record_id,
            "model": READER_CODE,
            "reader_result": result,
        }


async def _start(
    metered: Attempt, code: str, request_id: str | None, user_id: str | None
) -> CountedWork:
    """Admit one call and follow it; its one unit is counted once it has succeeded."""
    record = completion_id()
    await metered.admit(
        Admitted(
            record_id=record,
            model=code,
            request_id=request_id or record,
            client_request_id=request_id,
            stream=False,
            price=TOOLS[code].price,
            user_id=user_id,
        )
    )
    work = CountedWork()
    metered.track(work)
    return work


def _query(options: SearchOptions) -> SearchQuery:
    return SearchQuery(
        text=options.query,
        count=options.count,
        domain=options.domain,
        recency_days=options.recency_days,
        content_size=options.content_size,
        include_image=options.include_image,
    )


def _intent(options: SearchOptions) -> dict[str, str]:
    """glmserve has no intent model: every query is searched as it is given."""
    return {"query": options.query, "intent": "SEARCH_ALWAYS", "keywords": options.query}
