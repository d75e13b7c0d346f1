"""Identifiers in Z.AI's shapes: task ids are ``YYYYMMDDHHMMSS`` followed by hex."""

from __future__ import annotations

import secrets
import time

__all__ = ["completion_id", "now_seconds", "tool_call_id"]


def completion_id() -> str:
    return time.strftime("%Y%m%d%H%M%S", time.gmtime()) + secrets.token_hex(8)


def now_seconds() -> int:
    return int(time.time())


def tool_call_id() -> str:
    return "call_" + secrets.token_hex(12)
