"""The web search room: ``POST /web_search``, ``POST /reader`` and the ``web_search``
tool of chat (docs/search.md), on the back ends of ``glmserve.search``."""

from glmserve.serving.web_search.grounding import Grounding
from glmserve.serving.web_search.service import WebSearchService

__all__ = ["Grounding", "WebSearchService"]
