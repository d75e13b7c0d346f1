"""Anthropic Messages requests: the wire type, its validation, and its translation into
the chat completions request everything behind the HTTP layer works with.

What Claude Code and the ``anthropic`` SDKs send to ``/api/anthropic/v1/messages``
(docs/anthropic.md): ``system`` as a string or text blocks;
``messages`` whose content is a string or text, image, tool_use, tool_result, thinking
and redacted_thinking blocks, including ``system`` messages between the turns (Claude
Code 2.1's ``mid-conversation-system`` beta); custom ``tools`` with ``input_schema``;
``tool_choice``; ``thinking``; ``output_config`` (``effort``, ``format``) and
``context_management``. Unknown fields (``cache_control``, ``metadata``,
``citations``...) are accepted and ignored. Every problem is a typed error
(InvalidField, MissingField...) that the Anthropic surface answers in Anthropic's
error shape.

Translation: a system message stays where it stands, as a system turn (GLM's templates
render one anywhere in the conversation); a user message's tool_result blocks become
``tool`` messages (in order, before the rest of its content); an assistant message's
thinking blocks become its ``reasoning_content``, its tool_use blocks its
``tool_calls``; tool_choice ``any`` is ``required`` (``disable_parallel_tool_use``:
``parallel_tool_calls: false``); thinking ``enabled`` (or ``adaptive``) turns GLM's
thinking on, and ``enabled``'s ``budget_tokens`` is the thinking budget; an
``output_config.format`` JSON schema is
the chat request's ``response_format``. ``output_config.effort`` and
``context_management`` are checked and not applied: GLM-4.x templates have no effort
setting, and the thinking kept in the prompt follows ``clear_thinking`` alone.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
)

from glmserve.errors import (
    ConflictingFields,
    GlmServeError,
    InvalidField,
    InvalidRequest,
    MissingField,
)
from glmserve.protocol.chat import ChatCompletionRequest, parse_chat_request
from glmserve.protocol.json_text import decode_json
from glmserve.protocol.stored import check_stored

__all__ = [
    "MessagesRequest",
    "CountTokensRequest",
    "parse_messages_request",
    "to_chat_request",
]


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextBlock(_Wire):
    type: Literal["text"]
    text: str


class _ImageSource(_Wire):
    type: Literal["base64", "url"]
    media_type: str | None = None
    data: str | None = None
    url: str | None = None


class ImageBlock(_Wire):
    type: Literal["image"]
    source: _ImageSource


class ToolUseBlock(_Wire):
    type: Literal["tool_use"]
    id: str
    name: str
    input: dict[str, Any] = Field(default_factory=dict)


class ToolResultBlock(_Wire):
    type: Literal["tool_result"]
    tool_use_id: str
    content: str | list[Annotated[TextBlock | ImageBlock, Field(discriminator="type")]] = ""
    is_error: StrictBool | None = None


class ThinkingBlock(_Wire):
    type: Literal["thinking"]
    thinking: str
    signature: str | None = None


class RedactedThinkingBlock(_Wire):
    type: Literal["redacted_thinking"]
    data: str = ""


ContentBlock = Annotated[
    TextBlock | ImageBlock | ToolUseBlock | ToolResultBlock | ThinkingBlock | RedactedThinkingBlock,
    Field(discriminator="type"),
]


class MessageParam(_Wire):
    role: Literal["user", "assistant", "system"]
    content: str | list[ContentBlock]


class ToolParam(_Wire):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    input_schema: dict[str, Any] | None = None
    type: str | None = None
    """Absent or "custom" for a client tool; Anthropic's server tools have a versioned
    type (``web_search_20250305``...) and are not supported here."""


class ToolChoice(_Wire):
    type: Literal["auto", "any", "tool", "none"]
    name: str | None = None
    disable_parallel_tool_use: StrictBool | None = None


class ThinkingConfig(_Wire):
    type: Literal["enabled", "disabled", "adaptive"]
    budget_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    clear_thinking: StrictBool | None = None  # Z.AI's extension, passed through


class JsonSchemaFormat(_Wire):
    type: Literal["json_schema"]
    schema_: dict[str, Any] = Field(alias="schema")


class OutputConfig(_Wire):
    effort: Literal["low", "medium", "high", "xhigh", "max"] | None = None
    """Accepted, not applied: GLM-4.x templates have no effort setting."""
    format: JsonSchemaFormat | None = None


class ContextEdit(_Wire):
    type: str


class ContextManagement(_Wire):
    """Anthropic's server-side context editing. Accepted, not applied: glmserve keeps
    the prompt the client sends (``clear_thinking_20251015`` with ``keep: "all"``,
    what Claude Code asks for, is what preserved thinking does anyway)."""

    edits: list[ContextEdit] = Field(default_factory=list)


def _max_tokens_required(schema: dict[str, Any]) -> None:
    schema["required"] = [*schema.get("required", []), "max_tokens"]


class MessagesRequest(_Wire):
    model_config = ConfigDict(json_schema_extra=_max_tokens_required)

    model: str
    max_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    """Required by ``/v1/messages``; absent on ``/v1/messages/count_tokens``."""
    messages: list[MessageParam]
    system: str | list[TextBlock] | None = None
    stop_sequences: list[str] | None = None
    stream: StrictBool | None = None
    temperature: Annotated[StrictFloat, Field(ge=0.0, le=1.0)] | None = None
    top_p: Annotated[StrictFloat, Field(gt=0.0, le=1.0)] | None = None
    top_k: Annotated[StrictInt, Field(ge=0)] | None = None
    tools: list[ToolParam] | None = None
    tool_choice: ToolChoice | None = None
    thinking: ThinkingConfig | None = None
    metadata: dict[str, Any] | None = None
    output_config: OutputConfig | None = None
    output_format: JsonSchemaFormat | None = None
    """The structured-outputs beta's name for ``output_config.format``."""
    context_management: ContextManagement | None = None


class CountTokensRequest(MessagesRequest):
    """``/v1/messages/count_tokens``: the same body, without the need for ``max_tokens``
    (for the OpenAPI document; ``parse_messages_request(count_only=True)`` reads it)."""

    model_config = ConfigDict(json_schema_extra=None)


def parse_messages_request(
    body: bytes | Any, *, max_depth: int, count_only: bool = False
) -> MessagesRequest:
    """Parse and check a Messages request body, its bytes or the JSON value api/body.py
    read (``count_only``: a count_tokens body, where ``max_tokens`` is not needed;
    ``max_depth``: the configured ``[http]`` JSON nesting limit)."""
    if isinstance(body, bytes):
        body = decode_json(body, max_depth=max_depth)
    raw = body
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    required = ("model", "messages") if count_only else ("model", "max_tokens", "messages")
    for name in required:
        if raw.get(name) is None:
            raise MissingField(name)
    try:
        request = MessagesRequest.model_validate({k: v for k, v in raw.items() if v is not None})
    except ValidationError as exc:
        raise _field_error(exc) from None
    _check(request)
    return request


def _field_error(exc: ValidationError) -> GlmServeError:
    err = exc.errors()[0]
    path = ""
    for part in err["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier() and part[0].islower() and part not in ("str", "list", "dict"):
            path += f".{part}" if path else part
    if err["type"] == "missing":
        return MissingField(path or "body")
    return InvalidField(path or "body", err["msg"])


def _check(request: MessagesRequest) -> None:
    check_stored("model", request.model)
    if not request.messages:
        raise InvalidField("messages", "at least one message is required.")
    for i, tool in enumerate(request.tools or []):
        if tool.type not in (None, "custom"):
            raise InvalidField(
                f"tools[{i}].type", f"server tool '{tool.type}' is not supported here."
            )
        if tool.input_schema is None:
            raise MissingField(f"tools[{i}].input_schema")
    choice = request.tool_choice
    if choice is not None and choice.type == "tool" and not choice.name:
        raise MissingField("tool_choice.name")
    config = request.output_config
    if request.output_format is not None and config is not None and config.format is not None:
        raise ConflictingFields("output_format", "output_config.format")
    for i, message in enumerate(request.messages):
        if message.role == "system" and not isinstance(message.content, str):
            for j, block in enumerate(message.content):
                if not isinstance(block, TextBlock):
                    raise InvalidField(
                        f"messages[{i}].content[{j}]",
                        f"a system message holds text blocks only, not {block.type}.",
                    )


def _output_format(request: MessagesRequest) -> JsonSchemaFormat | None:
    """The requested JSON schema, under either of its names."""
    if request.output_config is not None and request.output_config.format is not None:
        return request.output_config.format
    return request.output_format


# --- translation --------------------------------------------------------------------


def to_chat_request(
    request: MessagesRequest, model: str, *, max_depth: int
) -> ChatCompletionRequest:
    """The chat completions request for a Messages request, for the served ``model``
    (``max_depth``: the configured ``[http]`` JSON nesting limit)."""
    messages: list[dict[str, Any]] = []
    system = _system_text(request.system)
    if system:
        messages.append({"role": "system", "content": system})
    for message in request.messages:
        if message.role == "user":
            messages.extend(_user_messages(message.content))
        elif message.role == "system":
            text = _system_text(message.content)
            if text:  # an empty system turn says nothing: not worth a turn marker
                messages.append({"role": "system", "content": text})
        else:
            messages.append(_assistant_message(message.content))
    chat: dict[str, Any] = {
        "model": model,
        "messages": messages,
        "max_tokens": request.max_tokens,
        "stream": request.stream,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "top_k": request.top_k,
        "stop": request.stop_sequences or None,
    }
    if request.tools:
        chat["tools"] = [_function_tool(t) for t in request.tools]
    if request.tool_choice is not None:
        chat["tool_choice"] = _tool_choice(request.tool_choice)
        if request.tool_choice.disable_parallel_tool_use:
            chat["parallel_tool_calls"] = False
    if request.thinking is not None:
        thinking: dict[str, Any] = {
            "type": "disabled" if request.thinking.type == "disabled" else "enabled"
        }
        if request.thinking.clear_thinking is not None:
            thinking["clear_thinking"] = request.thinking.clear_thinking
        if request.thinking.type == "enabled" and request.thinking.budget_tokens is not None:
            thinking["budget_tokens"] = request.thinking.budget_tokens
        chat["thinking"] = thinking
    output_format = _output_format(request)
    if output_format is not None:
        chat["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": output_format.schema_},
        }
    # One set of checks for both surfaces: the chat request's own parser.
    return parse_chat_request({k: v for k, v in chat.items() if v is not None}, max_depth=max_depth)


# Claude Code's first system block, "x-anthropic-billing-header: cc_version=...;", is
# metadata for Anthropic's billing, not an instruction; its hash suffix changes from one
# session to the next, so keeping it would also cost the prefix cache.
_BILLING_HEADER = "x-anthropic-billing-header:"


def _system_text(system: str | list[Any] | None) -> str:
    if system is None or isinstance(system, str):
        return system or ""
    return "\n\n".join(
        block.text for block in system if block.text and not block.text.startswith(_BILLING_HEADER)
    )


def _user_messages(content: str | list[Any]) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    out: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, ToolResultBlock):
            out.append(
                {"role": "tool", "tool_call_id": block.tool_use_id, "content": _result_text(block)}
            )
        elif isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            parts.append({"type": "image_url", "image_url": {"url": _image_url(block)}})
        else:  # thinking or tool_use in a user turn: not something a user says
            raise InvalidField("messages", f"a user message cannot hold a {block.type} block.")
    if parts:
        out.append({"role": "user", "content": parts})
    return out


def _result_text(block: ToolResultBlock) -> str:
    if isinstance(block.content, str):
        text = block.content
    else:
        if any(isinstance(part, ImageBlock) for part in block.content):
            raise InvalidField("messages", "images inside tool_result blocks are not supported.")
        text = "\n".join(part.text for part in block.content if isinstance(part, TextBlock))
    return f"Error: {text}" if block.is_error else text


def _image_url(block: ImageBlock) -> str:
    source = block.source
    if source.type == "url":
        if not source.url:
            raise MissingField("source.url")
        return source.url
    if not source.data:
        raise MissingField("source.data")
    return f"data:{source.media_type or 'image/png'};base64,{source.data}"


def _assistant_message(content: str | list[Any]) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    text: list[str] = []
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in content:
        if isinstance(block, TextBlock):
            text.append(block.text)
        elif isinstance(block, ThinkingBlock):
            reasoning.append(block.thinking)
        elif isinstance(block, ToolUseBlock):
            calls.append(
                {
                    "id": block.id,
                    "type": "function",
                    "function": {
                        "name": block.name,
                        "arguments": json.dumps(block.input, ensure_ascii=False),
                    },
                }
            )
        elif isinstance(block, RedactedThinkingBlock):
            continue  # opaque by design: nothing a GLM prompt can show
        else:
            raise InvalidField(
                "messages", f"an assistant message cannot hold a {block.type} block."
            )
    message: dict[str, Any] = {"role": "assistant", "content": "".join(text)}
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    if calls:
        message["tool_calls"] = calls
    return message


def _function_tool(tool: ToolParam) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name, "parameters": tool.input_schema}
    if tool.description is not None:
        function["description"] = tool.description
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice) -> str | dict[str, Any]:
    if choice.type == "any":
        return "required"
    if choice.type == "tool":
        return {"type": "function", "function": {"name": choice.name}}
    return choice.type  # auto, none
