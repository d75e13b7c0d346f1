"""Search back ends behind one small interface (docs/search.md): a local full-text index
of the operator's documents (local.py: SQLite FTS5, BM25) and SearXNG (searxng.py).
Pages and documents become text here too (pages.py), for the index and the web reader.

A lower layer: nothing here imports serving/, platform/ or api/.
"""

from glmserve.search.types import BackendDown, Hit, SearchBackend, SearchQuery

__all__ = ["BackendDown", "Hit", "SearchBackend", "SearchQuery"]
