"""HTTP/1.1 connections that cannot be held by slow or stalled clients.

uvicorn's h11 protocol with two additions (docs/configuration.md, "Request limits and
timeouts", says why this server and not another):

- a deadline for the request line and headers: a connection that sends nothing, or
  part of its headers, is closed ``header_timeout_seconds`` after its first byte (or
  after the previous response). uvicorn's own keep-alive timer stops at the first byte
  of a request and never starts on a new connection;
- a cap on open connections per client address: one more is answered 429 and closed;
- a deadline for the rest of a body the app answered without reading (a 401 to a
  request without a key, a 413): the connection is closed ``body_timeout_seconds``
  after the response if the body has still not all arrived. uvicorn would keep it open
  for as long as the client sends a byte now and then.

The deadline of a body the app reads is the app's (api/body.py).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from functools import partial
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from glmserve.config import HttpSettings

__all__ = ["guarded_http"]


def guarded_http(settings: HttpSettings) -> Any:
    """The protocol factory for ``uvicorn.run(http=...)``: one per server, so the count of
    connections per address lives with the server."""
    return partial(GuardedH11Protocol, guard=_Guard(settings))


class _Guard:
    def __init__(self, settings: HttpSettings) -> None:
        self.header_timeout = settings.header_timeout_seconds
        self.body_timeout = settings.body_timeout_seconds
        self.per_client = settings.max_connections_per_client
        self.open: Counter[str] = Counter()


class GuardedH11Protocol(H11Protocol):
    def __init__(self, *args: Any, guard: _Guard, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._guard = guard
        self._host: str | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._host = self.client[0] if self.client else None
        if self._host is not None:
            self._guard.open[self._host] += 1
            cap = self._guard.per_client
            if cap and self._guard.open[self._host] > cap:
                self._refuse(cap)
                return
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        if self._host is not None:
            self._guard.open[self._host] -= 1
            if self._guard.open[self._host] <= 0:
                del self._guard.open[self._host]
            self._host = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            # Still waiting for a whole request line and headers (the clock started at
            # the connection, or at the first byte after a response).
            if self._header_timer is None:
                self._arm_header_timer()
        else:
            self._disarm_header_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Idle between requests is the keep-alive timer's; a new request's headers get
        # a fresh deadline from their first byte (data_received).
        self._disarm_header_timer()
        if self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing():
            # Answered before its body was read: the rest must come in time (uvicorn
            # discards it, so waiting costs no memory, only the connection).
            if self._body_timer is not None:
                self._body_timer.cancel()
            cycle = self.cycle
            self._body_timer = self.loop.call_later(
                self._guard.body_timeout, self._body_too_slow, cycle
            )

    def _body_too_slow(self, cycle: object) -> None:
        self._body_timer = None
        if (
            self.cycle is cycle
            and self.conn.their_state is h11.SEND_BODY
            and not self.transport.is_closing()
        ):
            self.transport.close()

    def _arm_header_timer(self) -> None:
        self._header_timer = self.loop.call_later(
            self._guard.header_timeout, self._headers_too_slow
        )

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, cap: int) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "1302",
                    "message": f"Too many open connections from this address (at most {cap}).",
                }
            }
        ).encode()
        head = (
            "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
        ).encode()
        self.transport.write(head + body)
        self.transport.close()
