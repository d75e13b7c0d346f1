"""One embeddings (or rerank) request's work as the ledger follows it (``Metered``):
its input tokens, and how it ended."""

from __future__ import annotations

from glmserve.serving.run.counted import CountedWork

__all__ = ["EmbeddingWork"]


class EmbeddingWork(CountedWork):
    """Usage of an embeddings request: all of it is prompt tokens."""

    def __init__(self, prompt_tokens: int) -> None:
        super().__init__(prompt_tokens=prompt_tokens)
