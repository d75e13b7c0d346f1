"""The ``[http]`` section: what one request may hold and how long a client may take.

Limits on what arrives (body size, JSON nesting, messages and their text) keep memory
and preparation work bounded whatever a client sends; timeouts and a per-address
connection cap keep slow or stalled clients from holding the server. What each key
means and why the defaults: docs/configuration.md, "Request limits and timeouts".
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["HttpFile", "HttpSettings", "http_settings"]

MAX_JSON_DEPTH = 500
"""The most nesting the setting may allow: Python's JSON parser recurses once per level
and stops near 1000."""


@dataclass(frozen=True)
class HttpSettings:
    max_body_bytes: int = 16 * 1024 * 1024
    """A request body larger than this is refused with 413 (vision requests carry images
    as base64 data URLs, so a few MiB is normal)."""
    max_json_depth: int = 64
    max_messages: int = 4096
    max_message_chars: int = 1_000_000
    """Text of one message (content, reasoning, tool-call arguments), before tokenizing."""
    max_total_chars: int = 2_000_000
    """Text of the whole request (messages and tool definitions), before tokenizing."""
    header_timeout_seconds: float = 10.0
    """From a connection's first byte (or the end of its previous response) to the end of
    the request's headers."""
    body_timeout_seconds: float = 60.0
    """From the end of the headers to the end of the body."""
    keepalive_timeout_seconds: float = 5.0
    """An idle keep-alive connection is closed after this."""
    max_connections_per_client: int = 256
    """Open connections from one client address; 0: no cap."""
    cors_origins: tuple[str, ...] = ()
    """Origins browsers may call from (``"*"`` for any); empty: CORS off."""


class HttpFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    max_body_bytes: int = Field(default=HttpSettings.max_body_bytes, ge=1024)
    max_json_depth: int = Field(default=HttpSettings.max_json_depth, ge=2, le=MAX_JSON_DEPTH)
    max_messages: int = Field(default=HttpSettings.max_messages, ge=1)
    max_message_chars: int = Field(default=HttpSettings.max_message_chars, ge=1)
    max_total_chars: int = Field(default=HttpSettings.max_total_chars, ge=1)
    header_timeout_seconds: float = Field(default=HttpSettings.header_timeout_seconds, gt=0)
    body_timeout_seconds: float = Field(default=HttpSettings.body_timeout_seconds, gt=0)
    keepalive_timeout_seconds: float = Field(default=HttpSettings.keepalive_timeout_seconds, gt=0)
    max_connections_per_client: int = Field(default=HttpSettings.max_connections_per_client, ge=0)
    cors_origins: list[str] = Field(default_factory=list)


def http_settings(entry: HttpFile) -> HttpSettings:
    values = entry.model_dump()
    values["cors_origins"] = tuple(entry.cors_origins)
    return HttpSettings(**values)
