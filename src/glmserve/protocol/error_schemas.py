"""The error bodies as pydantic models, for the OpenAPI document (api/openapi.py) and
for tests that check the bodies against it. The bodies themselves are built by
``responses.error_body`` and ``anthropic_responses.error_body``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

__all__ = ["ZaiErrorBody", "AnthropicErrorBody"]


class ZaiError(BaseModel):
    code: str
    """The business code, e.g. "1214"."""
    message: str


class ZaiErrorBody(BaseModel):
    """Z.AI's error body (and the OpenAI-compatible paths')."""

    error: ZaiError


class AnthropicError(BaseModel):
    type: str
    """invalid_request_error, authentication_error, not_found_error, request_too_large..."""
    message: str


class AnthropicErrorBody(BaseModel):
    """The Anthropic surface's error body."""

    type: Literal["error"]
    error: AnthropicError
