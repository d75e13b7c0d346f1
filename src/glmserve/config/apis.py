"""The API names, and ``[apis]``: APIs turned off on this server (docs/api.md, "API
names"). A key may also be limited to some of them (the admin API); a call to an API
turned off is 1221, to one the key may not call 1220."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["API_NAMES", "ApiName", "ApisFile"]

ApiName = Literal[
    "chat",
    "coding",
    "anthropic",
    "async",
    "tokenizer",
    "embeddings",
    "rerank",
    "moderations",
    "files",
    "batches",
    "agents",
]
API_NAMES: tuple[str, ...] = get_args(ApiName)


class ApisFile(BaseModel):
    """``[apis]``: ``disabled = ["rerank", ...]`` answers those with 1221."""

    model_config = ConfigDict(extra="forbid", strict=True)

    disabled: list[ApiName] = Field(default_factory=list)
