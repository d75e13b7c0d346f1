"""Wire types of web search: ``POST /web_search``, the ``web_search`` tool of chat and
``POST /reader`` (docs/api.md "Web search", "Web reader"): reading a body into checked
values (Z.AI errors naming the field), and the response bodies.

Z.AI's own guide sends the chat tool's booleans and numbers as strings
(``"enable": "True"``, ``"count": "5"``): they are read leniently, as Z.AI does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from glmserve.catalog import SEARCH_ENGINES
from glmserve.errors import InvalidField, MissingField

__all__ = [
    "ENGINES",
    "RECENCY_DAYS",
    "ReaderBody",
    "ReaderRequest",
    "SearchOptions",
    "WebSearchBody",
    "WebSearchTool",
    "parse_reader_request",
    "parse_search_options",
    "parse_web_search_tool",
    "search_result",
]

ENGINES = SEARCH_ENGINES
"""Z.AI's and BigModel's search_engine codes (the catalog's); each runs on the
configured back end."""
DEFAULT_ENGINE = "search-prime"
RECENCY_DAYS: dict[str, int | None] = {
    "oneDay": 1,
    "oneWeek": 7,
    "oneMonth": 30,
    "oneYear": 365,
    "noLimit": None,
}
MAX_QUERY_CHARS = 1000


@dataclass(frozen=True)
class SearchOptions:
    engine: str
    query: str
    count: int = 10
    domain: str | None = None
    recency: str = "noLimit"
    content_size: Literal["medium", "high"] = "medium"
    search_intent: bool = False
    include_image: bool = False
    request_id: str | None = None
    user_id: str | None = None

    @property
    def recency_days(self) -> int | None:
        return RECENCY_DAYS[self.recency]


@dataclass(frozen=True)
class WebSearchTool:
    """The ``web_search`` tool of a chat request, read."""

    enable: bool
    options: SearchOptions | None
    """The search to run; its query is "" when the tool names none (the caller then
    searches for the last user message)."""
    search_result: bool = False
    """Return the results in the response (``web_search``)."""
    search_prompt: str | None = None
    result_sequence: Literal["before", "after"] = "before"
    """Where a stream carries the results: a chunk before the answer, or after it."""
    require_search: bool = False


@dataclass(frozen=True)
class ReaderRequest:
    url: str
    timeout: float | None = None
    no_cache: bool = False
    return_format: Literal["markdown", "text"] = "markdown"
    retain_images: bool = True
    no_gfm: bool = False
    keep_img_data_url: bool = False
    with_images_summary: bool = False
    with_links_summary: bool = False
    request_id: str | None = None
    user_id: str | None = None


class WebSearchBody(BaseModel):
    """The body of ``POST /web_search`` as the OpenAPI document describes it;
    ``parse_search_options`` is what checks a body, with Z.AI's codes."""

    model_config = ConfigDict(extra="allow")

    search_query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    search_engine: Literal[ENGINES] = DEFAULT_ENGINE  # type: ignore[valid-type]
    count: int | None = Field(default=None, ge=1, le=50)
    search_domain_filter: str | None = None
    search_recency_filter: Literal["oneDay", "oneWeek", "oneMonth", "oneYear", "noLimit"] | None = (
        None
    )
    content_size: Literal["medium", "high"] | None = None
    search_intent: bool | None = None
    include_image: bool | None = None
    request_id: str | None = None
    user_id: str | None = None


class ReaderBody(BaseModel):
    """The body of ``POST /reader`` as the OpenAPI document describes it; checked by
    ``parse_reader_request``."""

    model_config = ConfigDict(extra="allow")

    url: str = Field(min_length=1)
    timeout: str | int | None = None
    no_cache: bool | None = None
    return_format: Literal["markdown", "text"] | None = None
    retain_images: bool | None = None
    no_gfm: bool | None = None
    keep_img_data_url: bool | None = None
    with_images_summary: bool | None = None
    with_links_summary: bool | None = None
    request_id: str | None = None
    user_id: str | None = None


def parse_search_options(
    raw: Mapping[str, Any], *, where: str = "", query_required: bool = True
) -> SearchOptions:
    """Check search fields (a ``/web_search`` body, or the chat tool's object; ``where``
    prefixes the field names in errors: ``"tools[0].web_search."``)."""
    query = raw.get("search_query")
    if query is None and query_required:
        raise MissingField(f"{where}search_query")
    if query is not None and (not isinstance(query, str) or not query.strip()):
        raise InvalidField(f"{where}search_query", "must be a non-empty string")
    if query is not None and len(query) > MAX_QUERY_CHARS:
        raise InvalidField(f"{where}search_query", f"at most {MAX_QUERY_CHARS} characters")
    engine = raw.get("search_engine")
    if engine is None:
        engine = DEFAULT_ENGINE
    if engine not in ENGINES:
        raise InvalidField(f"{where}search_engine", f"must be one of {', '.join(ENGINES)}")
    count = _int(raw.get("count"), f"{where}count", 10)
    if not 1 <= count <= 50:
        raise InvalidField(f"{where}count", "must be between 1 and 50")
    domain = raw.get("search_domain_filter")
    if domain is not None and (not isinstance(domain, str) or not domain.strip()):
        raise InvalidField(f"{where}search_domain_filter", "must be a domain name")
    recency = raw.get("search_recency_filter") or "noLimit"
    if recency not in RECENCY_DAYS:
        raise InvalidField(
            f"{where}search_recency_filter", f"must be one of {', '.join(RECENCY_DAYS)}"
        )
    size: Literal["medium", "high"] = "medium"
    given = raw.get("content_size")
    if given == "high":
        size = "high"
    elif given not in (None, "medium"):
        raise InvalidField(f"{where}content_size", "must be 'medium' or 'high'")
    return SearchOptions(
        engine=engine,
        query=(query or "").strip(),
        count=count,
        domain=domain.strip() if domain else None,
        recency=recency,
        content_size=size,
        search_intent=_bool(raw.get("search_intent"), f"{where}search_intent", False),
        include_image=_bool(raw.get("include_image"), f"{where}include_image", False),
        request_id=_text(raw.get("request_id"), "request_id"),
        user_id=_text(raw.get("user_id"), "user_id"),
    )


def parse_web_search_tool(raw: Any, index: int) -> WebSearchTool:
    """The chat request's ``tools[index].web_search`` object."""
    where = f"tools[{index}].web_search."
    if not isinstance(raw, Mapping):
        raise InvalidField(where.rstrip("."), "must be an object")
    enable = _bool(raw.get("enable"), f"{where}enable", False)
    prompt = raw.get("search_prompt")
    if prompt is not None and not isinstance(prompt, str):
        raise InvalidField(f"{where}search_prompt", "must be a string")
    sequence: Literal["before", "after"] = "before"
    given = raw.get("result_sequence")
    if given == "after":
        sequence = "after"
    elif given not in (None, "before"):
        raise InvalidField(f"{where}result_sequence", "must be 'before' or 'after'")
    options = parse_search_options(raw, where=where, query_required=False) if enable else None
    return WebSearchTool(
        enable=enable,
        options=options,
        search_result=_bool(raw.get("search_result"), f"{where}search_result", False),
        search_prompt=prompt or None,
        result_sequence=sequence,
        require_search=_bool(raw.get("require_search"), f"{where}require_search", False),
    )


def parse_reader_request(raw: Mapping[str, Any], *, max_timeout: float) -> ReaderRequest:
    url = raw.get("url")
    if url is None:
        raise MissingField("url")
    if not isinstance(url, str) or not url.strip():
        raise InvalidField("url", "must be an http(s) URL")
    if not url.strip().lower().startswith(("http://", "https://")):
        raise InvalidField("url", "only http and https URLs can be read")
    try:
        parts = urlsplit(url.strip())
        _ = parts.port
    except ValueError as exc:
        raise InvalidField("url", f"it is not a valid URL ({exc})") from None
    if not parts.hostname:
        raise InvalidField("url", "it has no host")
    timeout = raw.get("timeout")
    seconds: float | None = None
    if timeout is not None:
        try:
            seconds = float(timeout) if not isinstance(timeout, bool) else -1.0
        except (TypeError, ValueError):
            seconds = -1.0
        if not 0 < seconds <= max_timeout:
            raise InvalidField("timeout", f"must be a number of seconds, at most {max_timeout:g}")
    fmt: Literal["markdown", "text"] = "markdown"
    given = raw.get("return_format")
    if given == "text":
        fmt = "text"
    elif given not in (None, "markdown"):
        raise InvalidField("return_format", "must be 'markdown' or 'text'")
    flags = {
        name: _bool(raw.get(name), name, default)
        for name, default in (
            ("no_cache", False),
            ("retain_images", True),
            ("no_gfm", False),
            ("keep_img_data_url", False),
            ("with_images_summary", False),
            ("with_links_summary", False),
        )
    }
    return ReaderRequest(
        url=url.strip(),
        timeout=seconds,
        return_format=fmt,
        request_id=_text(raw.get("request_id"), "request_id"),
        user_id=_text(raw.get("user_id"), "user_id"),
        **flags,
    )


def search_result(hits: Sequence[Any]) -> list[dict[str, Any]]:
    """Hits (``glmserve.search.Hit``) as Z.AI's ``search_result`` items, numbered
    ``ref_1``, ``ref_2``... in rank order."""
    out = []
    for number, hit in enumerate(hits, start=1):
        item: dict[str, Any] = {
            "title": hit.title,
            "content": hit.content,
            "link": hit.link,
            "media": hit.media,
            "icon": hit.icon,
            "refer": f"ref_{number}",
            "publish_date": hit.publish_date,
        }
        if hit.images:
            item["images"] = list(hit.images)
        out.append(item)
    return out


def _bool(value: Any, field: str, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise InvalidField(field, "must be true or false")


def _int(value: Any, field: str, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    raise InvalidField(field, "must be a whole number")


def _text(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InvalidField(field, "must be a string")
    return str(value)
