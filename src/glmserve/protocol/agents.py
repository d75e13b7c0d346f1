"""Wire types of the agents API: ``POST /v1/agents``, ``/v1/agents/async-result`` and
``/v1/agents/conversation`` (docs/agents.md).

A request names the agent (``agent_id``), carries the user's text as ``messages`` (a
string, or user messages whose content is a string or text parts) and the agent's
settings as ``custom_variables``. Responses follow zai-sdk's ``AgentsCompletion`` and
``AgentsCompletionChunk``: each choice has ``message`` (what the SDK reads) and
``messages`` (what Z.AI sends), whose ``content`` is a typed object such as
``{"type": "text", "text": "..."}``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from glmserve.engine.types import Usage
from glmserve.errors import InvalidField, InvalidRequest, MissingField
from glmserve.protocol.chat import SensitiveWordCheck

__all__ = [
    "AgentRequest",
    "AgentResultRequest",
    "AgentsBody",
    "AgentsResultBody",
    "AgentsConversationBody",
    "AgentChunks",
    "agent_body",
    "agent_usage",
    "parse_agent_request",
    "parse_conversation_request",
    "parse_result_request",
    "text_content",
]

_ID_MAX = 128


class AgentsBody(BaseModel):
    """``POST /v1/agents`` as the OpenAPI document describes it; ``parse_agent_request``
    is what checks a body, with Z.AI's business codes."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=_ID_MAX)
    messages: str | list[dict[str, Any]] | None = None
    custom_variables: dict[str, Any] | None = None
    stream: bool | None = None
    request_id: str | None = None
    user_id: str | None = None
    conversation_id: str | None = None
    sensitive_word_check: SensitiveWordCheck | None = None


class AgentsResultBody(BaseModel):
    """``POST /v1/agents/async-result``: the run an invoke answered with."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str | None = None
    async_id: str = Field(min_length=1, max_length=_ID_MAX)
    conversation_id: str | None = None
    custom_variables: dict[str, Any] | None = None


class AgentsConversationBody(BaseModel):
    """``POST /v1/agents/conversation``: the turns of one conversation."""

    model_config = ConfigDict(extra="forbid")

    agent_id: str = Field(min_length=1, max_length=_ID_MAX)
    conversation_id: str = Field(min_length=1, max_length=_ID_MAX)
    custom_variables: dict[str, Any] | None = None


@dataclass(frozen=True)
class AgentRequest:
    agent_id: str
    texts: tuple[str, ...]
    """The user's text, one entry per user message (parts joined)."""
    variables: dict[str, Any] = field(default_factory=dict)
    stream: bool = False
    request_id: str | None = None
    user_id: str | None = None
    conversation_id: str | None = None
    sensitive_word_check: dict[str, Any] | None = None
    base_url: str = ""
    """Where the server was reached (the HTTP layer sets it): file URLs are made on it."""

    @property
    def text(self) -> str:
        return "\n\n".join(self.texts)

    def json(self) -> str:
        """The stored form of the request (async runs), read back by ``from_json``."""
        return json.dumps(
            {
                "agent_id": self.agent_id,
                "texts": list(self.texts),
                "variables": self.variables,
                "request_id": self.request_id,
                "user_id": self.user_id,
                "conversation_id": self.conversation_id,
                "base_url": self.base_url,
                "sensitive_word_check": self.sensitive_word_check,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> AgentRequest:
        raw = json.loads(text)
        return cls(
            agent_id=raw["agent_id"],
            texts=tuple(raw["texts"]),
            variables=raw["variables"],
            request_id=raw["request_id"],
            user_id=raw["user_id"],
            conversation_id=raw["conversation_id"],
            base_url=raw["base_url"],
            sensitive_word_check=raw.get("sensitive_word_check"),
        )


@dataclass(frozen=True)
class AgentResultRequest:
    async_id: str
    agent_id: str | None = None


_KNOWN = {
    "agent_id",
    "messages",
    "custom_variables",
    "stream",
    "request_id",
    "user_id",
    "conversation_id",
    "sensitive_word_check",
}


def parse_agent_request(raw: Any) -> AgentRequest:
    """Check a ``POST /v1/agents`` body (the JSON value api/body.py read); a Z.AI error
    naming the field on any problem."""
    body = _object(raw)
    unknown = sorted(set(body) - _KNOWN)
    if unknown:
        raise InvalidField(unknown[0], "the agents API has no such field.")
    agent_id = _identifier(body, "agent_id", required=True)
    assert agent_id is not None
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise InvalidField("stream", "must be true or false.")
    variables = body.get("custom_variables")
    if variables is None:
        variables = {}
    if not isinstance(variables, dict):
        raise InvalidField("custom_variables", "must be an object.")
    return AgentRequest(
        agent_id=agent_id,
        texts=_texts(body.get("messages")),
        variables=variables,
        stream=bool(stream),
        request_id=_identifier(body, "request_id"),
        user_id=_identifier(body, "user_id"),
        conversation_id=_identifier(body, "conversation_id"),
        sensitive_word_check=_check_setting(body.get("sensitive_word_check")),
    )


def _check_setting(value: Any) -> dict[str, Any] | None:
    """``sensitive_word_check`` as chat takes it (docs/safety.md); every model call of the
    run is sent it."""
    if value is None:
        return None
    try:
        checked = SensitiveWordCheck.model_validate(value)
    except ValidationError:
        raise InvalidField(
            "sensitive_word_check", 'must be {"type": "ALL", "status": "ENABLE" | "DISABLE"}.'
        ) from None
    return checked.model_dump(exclude_none=True)


def parse_result_request(raw: Any) -> AgentResultRequest:
    body = _object(raw)
    unknown = sorted(set(body) - {"agent_id", "async_id", "conversation_id", "custom_variables"})
    if unknown:
        raise InvalidField(unknown[0], "the agents async-result API has no such field.")
    async_id = _identifier(body, "async_id", required=True)
    assert async_id is not None
    return AgentResultRequest(async_id=async_id, agent_id=_identifier(body, "agent_id"))


def parse_conversation_request(raw: Any) -> tuple[str, str]:
    """``(agent_id, conversation_id)`` of a ``POST /v1/agents/conversation`` body."""
    body = _object(raw)
    unknown = sorted(set(body) - {"agent_id", "conversation_id", "custom_variables"})
    if unknown:
        raise InvalidField(unknown[0], "the agents conversation API has no such field.")
    agent_id = _identifier(body, "agent_id", required=True)
    conversation_id = _identifier(body, "conversation_id", required=True)
    assert agent_id is not None and conversation_id is not None
    return agent_id, conversation_id


def _object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    return {k: v for k, v in raw.items() if v is not None}


def _identifier(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise MissingField(name)
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # zai-sdk's examples send request_id as a number
    if not isinstance(value, str) or not value.strip():
        raise InvalidField(name, "must be a non-empty string.")
    if len(value) > _ID_MAX:
        raise InvalidField(name, f"at most {_ID_MAX} characters.")
    return value


def _texts(messages: Any) -> tuple[str, ...]:
    """The user's text: ``messages`` as a string, or user messages with string or text
    part content. Anything else (images, other roles) is refused, not dropped."""
    if messages is None:
        return ()
    if isinstance(messages, str):
        return (messages,)
    if not isinstance(messages, list):
        raise InvalidField("messages", "must be a string or a list of messages.")
    texts = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise InvalidField(where, "must be an object with role and content.")
        extra = sorted(set(message) - {"role", "content"})
        if extra:
            raise InvalidField(f"{where}.{extra[0]}", "agent messages have role and content only.")
        if message.get("role") != "user":
            raise InvalidField(f"{where}.role", "agents take user messages only.")
        texts.append(_content(message.get("content"), f"{where}.content"))
    return tuple(texts)


def _content(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):  # one part, as Z.AI's examples sometimes write it
        content = [content]
    if not isinstance(content, list) or not content:
        raise InvalidField(where, "must be a string or a list of text parts.")
    pieces = []
    for j, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text":
            raise InvalidField(f"{where}[{j}]", "only text parts are supported by the agents.")
        text = part.get("text")
        if not isinstance(text, str):
            raise InvalidField(f"{where}[{j}].text", "must be a string.")
        pieces.append(text)
    return "".join(pieces)


# --- responses ------------------------------------------------------------------------


def text_content(text: str, kind: str = "text") -> dict[str, Any]:
    return {"type": kind, "text": text}


def agent_usage(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }


def agent_body(
    *,
    id: str,
    agent_id: str,
    status: str,
    contents: Sequence[dict[str, Any]],
    usage: Usage | None,
    request_id: str | None = None,
    conversation_id: str | None = None,
    async_id: str | None = None,
    finish_reason: str = "stop",
    error: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An ``AgentsCompletion``: ``choices[0].message`` is the answer (the last content),
    ``choices[0].messages`` every content in order (an explanation before it)."""
    messages = [{"role": "assistant", "content": c} for c in contents]
    choices = []
    if messages:
        choices.append(
            {
                "index": 0,
                "finish_reason": finish_reason,
                "message": messages[-1],
                "messages": messages,
            }
        )
    body: dict[str, Any] = {
        "id": id,
        "agent_id": agent_id,
        "status": status,
        "choices": choices,
        "request_id": request_id or id,
    }
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    if async_id is not None:
        body["async_id"] = async_id
    if usage is not None:
        body["usage"] = agent_usage(usage)
    if error is not None:
        body["error"] = error
    return body


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class AgentChunks:
    """The SSE events of one streamed agent run (``AgentsCompletionChunk``)."""

    def __init__(self, *, id: str, agent_id: str, conversation_id: str | None = None) -> None:
        self._head: dict[str, Any] = {"id": id, "agent_id": agent_id}
        if conversation_id is not None:
            self._head["conversation_id"] = conversation_id

    def content(self, content: dict[str, Any]) -> bytes:
        message = {"role": "assistant", "content": content}
        choice = {"index": 0, "delta": message, "messages": [message]}
        return self._event({**self._head, "choices": [choice]})

    def finish(self, finish_reason: str, usage: Usage) -> bytes:
        choice = {"index": 0, "finish_reason": finish_reason, "delta": {"role": "assistant"}}
        return self._event({**self._head, "choices": [choice], "usage": agent_usage(usage)})

    @staticmethod
    def _event(value: dict[str, Any]) -> bytes:
        return f"data: {_dumps(value)}\n\n".encode()
