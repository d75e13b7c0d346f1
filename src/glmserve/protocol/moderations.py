"""Wire types of ``POST /moderations`` (the zai-sdk's ``client.moderations.create``).

Request: ``model`` ("moderation") and ``input``: a text, a list of texts, or the SDK's
dict form ``{"type": "text", "text": ...}`` (``image_url``, ``video_url`` and
``audio_url`` parts are recognized and refused: the back ends read text), or a list of
those. Response: ``result_list`` with one ``{content_type, risk_level, risk_type}`` per
input, ``risk_level`` PASS, REVIEW or REJECT; ``usage.moderation_text.call_count``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from glmserve.errors import InvalidField, InvalidRequest, MissingField

__all__ = [
    "ModerationsBody",
    "MAX_INPUTS",
    "MODERATION_MODEL",
    "ModerationRequest",
    "ModerationResult",
    "moderation_body",
    "parse_moderation_request",
]

MODERATION_MODEL = "moderation"
MAX_INPUTS = 100
MAX_CHARS = 1_000_000
_MEDIA = ("image_url", "video_url", "audio_url")

RiskLevel = Literal["PASS", "REVIEW", "REJECT"]


class ModerationsBody(BaseModel):
    """The body of ``POST /moderations`` as the OpenAPI document describes it;
    ``parse_moderation_request`` is what checks a body, with Z.AI's codes."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    input: str | list[str] | dict[str, Any] | list[dict[str, Any]]
    request_id: str | None = None


@dataclass(frozen=True)
class ModerationRequest:
    model: str
    texts: tuple[str, ...]
    request_id: str | None = None


@dataclass(frozen=True)
class ModerationResult:
    risk_level: RiskLevel
    risk_type: tuple[str, ...] = ()
    content_type: str = "text"


def parse_moderation_request(raw: Any) -> ModerationRequest:
    """Check a moderations body; raise a typed Z.AI error on any problem."""
    if not isinstance(raw, Mapping):
        raise InvalidRequest("The request body must be a JSON object.")
    model = raw.get("model")
    if model is None:
        raise MissingField("model")
    if not isinstance(model, str) or not model:
        raise InvalidField("model", "must be a model code string")
    if raw.get("input") is None:
        raise MissingField("input")
    value = raw["input"]
    items = value if isinstance(value, list) else [value]
    if not items:
        raise InvalidField("input", "must not be empty")
    if len(items) > MAX_INPUTS:
        raise InvalidField("input", f"at most {MAX_INPUTS} items per request")
    texts = tuple(_text(item, i) for i, item in enumerate(items))
    if sum(len(t) for t in texts) > MAX_CHARS:
        raise InvalidField("input", f"at most {MAX_CHARS} characters in all")
    request_id = raw.get("request_id")
    if request_id is not None and (
        not isinstance(request_id, str) or not 0 < len(request_id) <= 128
    ):
        raise InvalidField("request_id", "must be a string of 1 to 128 characters")
    return ModerationRequest(model, texts, request_id)


def _text(item: Any, index: int) -> str:
    where = f"input[{index}]"
    if isinstance(item, str):
        if not item.strip():
            raise InvalidField(where, "must not be empty")
        return item
    if not isinstance(item, Mapping):
        raise InvalidField(where, "must be a text or an object with type and text")
    kind = item.get("type")
    if kind in _MEDIA or any(k in item for k in _MEDIA):
        raise InvalidField(
            where,
            f"{kind or 'media'} moderation is not served here: the content-safety back ends "
            "(keyword list, guard model) read text only",
        )
    if kind != "text":
        raise InvalidField(where, "type must be 'text' (or image_url, video_url, audio_url)")
    text = item.get("text")
    if not isinstance(text, str) or not text.strip():
        raise InvalidField(f"{where}.text", "must be a non-empty string")
    return text


def moderation_body(
    *, id: str, created: int, request_id: str, model: str, results: list[ModerationResult]
) -> dict[str, Any]:
    return {
        "id": id,
        "created": created,
        "request_id": request_id,
        "model": model,
        "result_list": [
            {
                "content_type": r.content_type,
                "risk_level": r.risk_level,
                "risk_type": list(r.risk_type),
            }
            for r in results
        ],
        "usage": {"moderation_text": {"call_count": len(results)}},
    }
