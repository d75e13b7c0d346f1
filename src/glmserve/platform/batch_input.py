"""What a batch is asked: the ``POST /batches`` body and the lines of its input file.

A line that cannot run (not JSON, no ``custom_id``, another endpoint's ``url``...) is an
``errors`` entry with its line number and a line of the error file; it never fails the
batch. Only a batch with no line that can run fails as a whole. A line no store could
keep or no request could carry (nesting deeper than ``MAX_LINE_DEPTH``, a lone UTF-16
surrogate escape, a NUL in its ``custom_id``) is such an error line too, never a batch
that fails to validate again and again (docs/limits.md, "Batches").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from glmserve.errors import InvalidField, MissingField

__all__ = [
    "BatchCreateBody",
    "ENDPOINTS",
    "BatchRequest",
    "LineError",
    "ParsedLine",
    "parse_batch_request",
    "parse_lines",
    "endpoint_kind",
    "TooManyLines",
    "MAX_LINE_DEPTH",
]

ENDPOINTS = {
    "/v4/chat/completions": "chat",
    "/v1/chat/completions": "chat",
    "/v4/embeddings": "embeddings",
    "/v1/embeddings": "embeddings",
}
"""The endpoints a batch may name (Z.AI's spelling and the SDK's), by kind."""

COMPLETION_WINDOWS = {"24h": 24 * 3600}
MAX_LINE_DEPTH = 64
"""How deep a line's JSON may nest (the HTTP routes' default ``[http] max_json_depth``)."""


class TooManyLines(Exception):
    """The file holds more requests than a batch may; raised as soon as one too many
    is read, before the rest of the file is parsed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the file has more than {limit} requests.")
        self.limit = limit


MAX_METADATA = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512


@dataclass(frozen=True)
class BatchRequest:
    input_file_id: str
    endpoint: str
    completion_window: str
    window_seconds: int
    metadata: dict[str, str] | None
    auto_delete_input_file: bool


@dataclass(frozen=True)
class LineError:
    line: int
    code: str
    message: str
    param: str | None
    custom_id: str | None = None

    def entry(self) -> dict[str, Any]:
        """Z.AI's ``errors.data`` entry."""
        return {"code": self.code, "line": self.line, "message": self.message, "param": self.param}


@dataclass(frozen=True)
class ParsedLine:
    line: int
    custom_id: str
    body: dict[str, Any]


def endpoint_kind(url: str) -> str | None:
    return ENDPOINTS.get(url.rstrip("/"))


class BatchCreateBody(BaseModel):
    """The body of ``POST /batches`` as the OpenAPI document describes it (docs/api.md
    "OpenAPI"); ``parse_batch_request`` is what checks a body, with Z.AI's codes."""

    model_config = ConfigDict(extra="allow")

    input_file_id: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    completion_window: str | None = None
    metadata: dict[str, str] | None = None
    auto_delete_input_file: bool | None = None


def parse_batch_request(payload: Any) -> BatchRequest:
    if not isinstance(payload, dict):
        raise InvalidField("body", "must be a JSON object.")
    file_id = payload.get("input_file_id")
    if not file_id:
        raise MissingField("input_file_id")
    if not isinstance(file_id, str):
        raise InvalidField("input_file_id", "must be a string.")
    endpoint = payload.get("endpoint")
    if not endpoint:
        raise MissingField("endpoint")
    if not isinstance(endpoint, str) or endpoint_kind(endpoint) is None:
        raise InvalidField("endpoint", f"must be one of {', '.join(ENDPOINTS)}.")
    window = payload.get("completion_window") or "24h"
    if window not in COMPLETION_WINDOWS:
        raise InvalidField("completion_window", 'only "24h" is supported.')
    auto_delete = payload.get("auto_delete_input_file", True)
    if auto_delete is None:
        auto_delete = True
    if not isinstance(auto_delete, bool):
        raise InvalidField("auto_delete_input_file", "must be true or false.")
    return BatchRequest(
        input_file_id=file_id,
        endpoint=endpoint.rstrip("/"),
        completion_window=window,
        window_seconds=COMPLETION_WINDOWS[window],
        metadata=_metadata(payload.get("metadata")),
        auto_delete_input_file=auto_delete,
    )


def _metadata(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidField("metadata", "must be an object of string keys and values.")
    if len(value) > MAX_METADATA:
        raise InvalidField("metadata", f"at most {MAX_METADATA} key-value pairs.")
    for key, item in value.items():
        if not isinstance(item, str):
            raise InvalidField("metadata", f"the value of {key!r} must be a string.")
        if len(key) > MAX_METADATA_KEY:
            raise InvalidField("metadata", f"keys are at most {MAX_METADATA_KEY} characters.")
        if len(item) > MAX_METADATA_VALUE:
            raise InvalidField(
                "metadata", f"values are at most {MAX_METADATA_VALUE} characters ({key!r})."
            )
    return dict(value)


def parse_lines(
    data: bytes, endpoint: str, max_lines: int | None = None
) -> tuple[list[ParsedLine], list[LineError]]:
    """The runnable lines and the errors of the others (blank lines are skipped).
    ``max_lines``: more requests than this raise ``TooManyLines`` at the first one too
    many, before the rest is read."""
    kind = endpoint_kind(endpoint)
    good: list[ParsedLine] = []
    bad: list[LineError] = []
    seen: set[str] = set()
    count = 0
    for number, raw in enumerate(_split(data), start=1):
        if not raw.strip():
            continue
        count += 1
        if max_lines is not None and count > max_lines:
            raise TooManyLines(max_lines)
        parsed = _line(number, raw, kind, seen)
        if isinstance(parsed, LineError):
            bad.append(parsed)
        else:
            seen.add(parsed.custom_id)
            good.append(parsed)
    return good, bad


def _split(data: bytes) -> Iterator[bytes]:
    """The file's lines one at a time (no list of them all)."""
    start = 0
    while start <= len(data):
        end = data.find(b"\n", start)
        if end < 0:
            end = len(data)
        yield data[start:end]
        start = end + 1


def _line(number: int, raw: bytes, kind: str | None, seen: set[str]) -> ParsedLine | LineError:
    try:
        item = json.loads(raw)
    except RecursionError:
        return LineError(number, "1214", f"the line nests more than {MAX_LINE_DEPTH} deep.", None)
    except (ValueError, UnicodeDecodeError):
        return LineError(number, "1210", "the line is not valid JSON.", None)
    if not isinstance(item, dict):
        return LineError(number, "1210", "the line must be a JSON object.", None)
    poison = _unstorable(item)
    if poison is not None:
        return LineError(number, "1214", poison, None)
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id:
        return LineError(number, "1213", "custom_id is missing or not a string.", "custom_id")
    if "\x00" in custom_id:
        return LineError(number, "1214", "custom_id holds a NUL character.", "custom_id")
    if len(custom_id) > 512:
        return LineError(number, "1214", "custom_id is longer than 512.", "custom_id", custom_id)
    if custom_id in seen:
        return LineError(
            number, "1214", f"custom_id {custom_id!r} appears twice.", "custom_id", custom_id
        )
    method = item.get("method", "POST")
    if not isinstance(method, str) or method.upper() != "POST":
        return LineError(number, "1214", "method must be POST.", "method", custom_id)
    url = item.get("url")
    if not isinstance(url, str) or not url:
        return LineError(number, "1213", "url is missing.", "url", custom_id)
    if endpoint_kind(url) != kind:
        return LineError(
            number, "1214", f"url {url!r} is not the batch's endpoint.", "url", custom_id
        )
    body = item.get("body")
    if not isinstance(body, dict):
        return LineError(number, "1213", "body is missing or not an object.", "body", custom_id)
    return ParsedLine(number, custom_id, body)


def _unstorable(item: Any) -> str | None:
    """Why a parsed line cannot be kept or run, or None: nesting beyond MAX_LINE_DEPTH,
    or a string (key or value) with a lone surrogate, which is no text (UTF-8 cannot
    encode it). Walked without recursion."""
    stack: list[tuple[Any, int]] = [(item, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if not _is_text(value):
                return "the line holds a lone UTF-16 surrogate escape, which is not text."
            continue
        if not isinstance(value, dict | list):
            continue
        if depth > MAX_LINE_DEPTH:
            return f"the line nests more than {MAX_LINE_DEPTH} deep."
        if isinstance(value, dict):
            stack.extend((k, depth) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        else:
            stack.extend((v, depth + 1) for v in value)
    return None


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
