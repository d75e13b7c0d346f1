"""Chat completions request: the wire type, its validation, and its normalization.

Accepts exactly what Z.AI clients send (docs/api.md, "Chat completions request"):
``null`` means absent, ``request_id`` may be a number, unknown fields are ignored, and
the OpenAI and DashScope fields Z.AI users also send are understood. Every problem becomes a typed
error with Z.AI's business code (1210, 1213, 1214, 1215).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
)

from glmserve.config.http import MAX_JSON_DEPTH
from glmserve.errors import (
    ConflictingFields,
    GlmServeError,
    InvalidField,
    InvalidRequest,
    MissingField,
)
from glmserve.protocol.json_text import (
    JsonTooDeep,
    LoneSurrogate,
    decode_json,
    loads_bounded,
)
from glmserve.protocol.stored import check_stored

__all__ = [
    "ChatCompletionRequest",
    "MediaPart",
    "Message",
    "media_parts",
    "parse_chat_request",
    "template_messages",
    "function_tools",
]

"""Nesting allowed in a tool call's ``arguments`` string (and in bytes parsed here)."""

_TYPE_TAGS = {"str", "int", "float", "bool", "list", "dict", "none", "literal"}


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- messages -----------------------------------------------------------------------


class _Url(_Wire):
    url: str


class TextPart(_Wire):
    type: Literal["text"]
    text: str


class ImageUrlPart(_Wire):
    type: Literal["image_url"]
    image_url: _Url


class VideoUrlPart(_Wire):
    type: Literal["video_url"]
    video_url: _Url


class FileUrlPart(_Wire):
    type: Literal["file_url"]
    file_url: _Url


class FilePart(_Wire):
    type: Literal["file"]
    file: dict[str, Any]


class _Audio(_Wire):
    data: str
    format: str


class InputAudioPart(_Wire):
    type: Literal["input_audio"]
    input_audio: _Audio


MediaPart = ImageUrlPart | VideoUrlPart | FileUrlPart | FilePart | InputAudioPart

ContentPart = Annotated[
    TextPart | ImageUrlPart | VideoUrlPart | FileUrlPart | FilePart | InputAudioPart,
    Field(discriminator="type"),
]


class FunctionCall(_Wire):
    name: str
    arguments: str | dict[str, Any] = "{}"


class ToolCall(_Wire):
    id: str | None = None
    type: Literal["function"] = "function"
    function: FunctionCall
    index: StrictInt | None = None  # the SDK's extra key when a message is sent back


class Message(_Wire):
    role: Literal["system", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None  # vLLM-style name for reasoning_content
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None
    name: str | None = None


# --- tools and options (validated now; applied by the GLM-format layer) ------------


class FunctionDef(_Wire):
    name: Annotated[str, Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class FunctionTool(_Wire):
    type: Literal["function"]
    function: FunctionDef


class RetrievalTool(_Wire):
    type: Literal["retrieval"]
    retrieval: dict[str, Any]


class WebSearchTool(_Wire):
    type: Literal["web_search"]
    web_search: dict[str, Any]


class McpTool(_Wire):
    type: Literal["mcp"]
    mcp: dict[str, Any]


Tool = Annotated[
    FunctionTool | RetrievalTool | WebSearchTool | McpTool, Field(discriminator="type")
]


class _NamedFunction(_Wire):
    name: str


class NamedToolChoice(_Wire):
    type: Literal["function"]
    function: _NamedFunction


class Thinking(_Wire):
    type: Literal["enabled", "disabled"] = "enabled"
    clear_thinking: StrictBool | None = None
    budget_tokens: Annotated[int, Field(ge=1)] | None = None
    """glmserve's extension (docs/api.md, "Thinking budgets"): reasoning tokens before
    the thinking block is closed."""


class _JsonSchema(_Wire):
    name: str | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Wire):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: _JsonSchema | None = None


class SensitiveWordCheck(_Wire):
    """Z.AI's per-request content-safety switch; DISABLE needs the key's permission
    (docs/safety.md)."""

    type: Literal["ALL"] | None = None
    status: Literal["ENABLE", "DISABLE"] | None = None


class StreamOptions(_Wire):
    include_usage: StrictBool | None = None


# --- the request --------------------------------------------------------------------


class ChatCompletionRequest(_Wire):
    model: str
    messages: list[Message]
    request_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    user_id: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    do_sample: StrictBool | None = None
    stream: StrictBool | None = None
    temperature: Annotated[StrictFloat, Field(ge=0.0, le=1.0)] | None = None
    top_p: Annotated[StrictFloat, Field(gt=0.0, le=1.0)] | None = None
    max_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    max_completion_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    seed: StrictInt | None = None
    stop: str | list[str] | None = None
    tools: Annotated[list[Tool], Field(max_length=128)] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    tool_stream: StrictBool | None = None
    parallel_tool_calls: StrictBool | None = None
    thinking: Thinking | None = None
    enable_thinking: StrictBool | None = None  # DashScope
    reasoning_effort: Literal["max", "xhigh", "high", "medium", "low", "minimal", "none"] | None = (
        None
    )
    response_format: ResponseFormat | None = None
    stream_options: StreamOptions | None = None
    sensitive_word_check: SensitiveWordCheck | None = None
    # Sampling knobs beyond Z.AI's (OpenAI, DashScope, llama.cpp); applied by the engine.
    top_k: Annotated[StrictInt, Field(ge=0)] | None = None
    min_p: Annotated[StrictFloat, Field(ge=0.0, le=1.0)] | None = None
    presence_penalty: Annotated[StrictFloat, Field(ge=-2.0, le=2.0)] | None = None
    frequency_penalty: Annotated[StrictFloat, Field(ge=-2.0, le=2.0)] | None = None
    repetition_penalty: Annotated[StrictFloat, Field(gt=0.0, le=2.0)] | None = None
    n: Annotated[StrictInt, Field(ge=1)] | None = None
    # vLLM's and llama-server's extension, sent by benchmark tools (docs/api.md).
    ignore_eos: StrictBool | None = None

    @property
    def safety_disabled(self) -> bool:
        """``sensitive_word_check.status`` is DISABLE."""
        check = self.sensitive_word_check
        return check is not None and check.status == "DISABLE"

    @field_validator("request_id", "user_id", mode="before")
    @classmethod
    def _number_to_string(cls, value: Any) -> Any:
        # zai-sdk's own tests send request_id=time.time(): a JSON number.
        if isinstance(value, bool):
            return value  # let validation reject it
        if isinstance(value, int | float):
            return repr(value) if isinstance(value, float) else str(value)
        return value

    @property
    def stop_list(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    @property
    def requested_max_tokens(self) -> int | None:
        return self.max_tokens if self.max_tokens is not None else self.max_completion_tokens


def parse_chat_request(body: bytes | Any, *, max_depth: int) -> ChatCompletionRequest:
    """Parse and check a request body (its bytes, or the JSON value api/body.py read);
    raise a typed Z.AI error on any problem. ``max_depth`` is the configured ``[http]``
    JSON nesting limit, for the body's bytes and for every tool call's arguments string."""
    raw = decode_json(body, max_depth=max_depth) if isinstance(body, bytes) else body
    if not isinstance(raw, dict):
        raise InvalidRequest("The request body must be a JSON object.")
    for required in ("model", "messages"):
        if raw.get(required) is None:
            raise MissingField(required)
    try:
        request = ChatCompletionRequest.model_validate(_drop_nulls(raw))
    except ValidationError as exc:
        raise _to_zai_error(exc) from None
    _check(request, max_depth)
    return request


def _drop_nulls(raw: dict[str, Any]) -> dict[str, Any]:
    """Top-level ``null`` means absent (the SDKs send ``"thinking": null`` and others)."""
    return {k: v for k, v in raw.items() if v is not None}


def _to_zai_error(exc: ValidationError) -> GlmServeError:
    err = exc.errors()[0]
    field = _field_path(err["loc"])
    if err["type"] == "missing":
        return MissingField(field)
    if err["type"] == "union_tag_invalid" and field.startswith("tools["):
        tag = err.get("ctx", {}).get("tag", "")
        return InvalidField(
            f"{field}.type", f"'{tag}' is not a tool type glmserve runs (it runs 'function')."
        )
    return InvalidField(field, err["msg"])


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part.isidentifier() and part.lower() not in _TYPE_TAGS and not part[0].isupper():
            path += f".{part}" if path else part
    return path or "body"


def _check(request: ChatCompletionRequest, max_depth: int) -> None:
    """Rules across fields, which a field-by-field schema cannot say."""
    for name in ("model", "request_id", "user_id"):
        check_stored(name, getattr(request, name))
    if not request.messages:
        raise InvalidField("messages", "Input cannot be empty.")
    if all(m.role in ("system", "assistant") for m in request.messages):
        raise InvalidField(
            "messages",
            "The messages parameter is illegal: it holds only system or assistant messages.",
        )
    for i, message in enumerate(request.messages):
        _check_message(i, message, max_depth)
    if (
        request.max_tokens is not None
        and request.max_completion_tokens is not None
        and request.max_tokens != request.max_completion_tokens
    ):
        raise ConflictingFields("max_tokens", "max_completion_tokens")
    if (
        request.thinking is not None
        and request.enable_thinking is not None
        and (request.thinking.type == "enabled") != request.enable_thinking
    ):
        raise ConflictingFields("thinking", "enable_thinking", "They disagree.")
    stops = request.stop_list
    if len(stops) > 4:
        raise InvalidField("stop", "at most 4 stop sequences are supported.")
    if any(not s for s in stops):
        raise InvalidField("stop", "stop sequences cannot be empty strings.")
    if request.n is not None and request.n != 1:
        raise InvalidField("n", "only n=1 is supported.")
    _check_tool_choice(request)
    _check_tool_types(request)


def _check_message(i: int, message: Message, max_depth: int) -> None:
    where = f"messages[{i}]"
    if message.role in ("system", "user", "tool") and message.content is None:
        raise InvalidField(f"{where}.content", f"a {message.role} message needs content.")
    if message.role == "user" and not message.content:
        raise InvalidField(f"{where}.content", "a user message cannot be empty.")
    empty_assistant = (
        message.role == "assistant"
        and message.content is None
        and not message.tool_calls
        and message.reasoning_content is None
        and message.reasoning is None
    )
    if empty_assistant:
        raise InvalidField(f"{where}.content", "an assistant message needs content or tool_calls.")
    if message.tool_calls and message.role != "assistant":
        raise InvalidField(f"{where}.tool_calls", "only assistant messages carry tool_calls.")
    for j, call in enumerate(message.tool_calls or []):
        field = f"{where}.tool_calls[{j}].function.arguments"
        try:
            arguments = _arguments(call.function.arguments, max_depth)
        except (JsonTooDeep, LoneSurrogate) as exc:
            raise InvalidField(field, exc.message) from None
        if not isinstance(arguments, dict):
            raise InvalidField(field, "it must be a JSON object.")


# Tool types glmserve does not run: refused by name (1214), never dropped. A knowledge
# base (``retrieval``) is Z.AI's hosted store.
_NOT_RUN = {
    "retrieval": "glmserve has no knowledge bases; retrieval tools are not supported.",
}


def _check_tool_types(request: ChatCompletionRequest) -> None:
    for i, tool in enumerate(request.tools or []):
        reason = _NOT_RUN.get(tool.type)
        if reason is not None:
            raise InvalidField(f"tools[{i}].type", f"'{tool.type}': {reason}")


def _check_tool_choice(request: ChatCompletionRequest) -> None:
    choice = request.tool_choice
    if choice is None or choice == "auto" or choice == "none":
        return
    functions = [t.function.name for t in request.tools or [] if isinstance(t, FunctionTool)]
    if not functions:
        raise InvalidField("tool_choice", "it needs function tools in 'tools'.")
    if isinstance(choice, NamedToolChoice) and choice.function.name not in functions:
        raise InvalidField("tool_choice", f"no function named '{choice.function.name}' in 'tools'.")


# --- normalization for the chat template -------------------------------------------


def template_messages(
    messages: list[Message], media_text: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Messages as chat templates expect them: text content, arguments as objects,
    ``reasoning_content`` under one name. ``media_text``: the text that stands for each
    media part, in the order of ``media_parts`` (the engine's markers where its images
    go); without it media parts are left out."""
    texts = iter(media_text) if media_text is not None else None
    return [_template_message(m, texts) for m in messages]


def media_parts(messages: list[Message]) -> list[tuple[str, MediaPart]]:
    """Every non-text content part, in order, with where it is (for error messages)."""
    found: list[tuple[str, MediaPart]] = []
    for i, message in enumerate(messages):
        if isinstance(message.content, list):
            for j, part in enumerate(message.content):
                if not isinstance(part, TextPart):
                    found.append((f"messages[{i}].content[{j}]", part))
    return found


def _template_message(message: Message, media_text: Iterator[str] | None) -> dict[str, Any]:
    # content null (an assistant turn that only calls tools) is "": templates print
    # None as the text "None".
    text = _text(message.content, media_text)
    out: dict[str, Any] = {"role": message.role, "content": text or ""}
    reasoning = (
        message.reasoning_content if message.reasoning_content is not None else message.reasoning
    )
    if reasoning is not None:
        out["reasoning_content"] = reasoning
    if message.tool_calls:
        out["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {
                    "name": call.function.name,
                    # checked against the configured depth when the request was parsed
                    "arguments": _arguments(call.function.arguments, MAX_JSON_DEPTH),
                },
            }
            for call in message.tool_calls
        ]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
    if message.name is not None:
        out["name"] = message.name
    return out


def _text(content: str | list[Any] | None, media_text: Iterator[str] | None = None) -> str | None:
    if content is None or isinstance(content, str):
        return content
    if media_text is None:
        return "".join(part.text for part in content if isinstance(part, TextPart))
    return "".join(
        part.text if isinstance(part, TextPart) else next(media_text) for part in content
    )


def _arguments(arguments: str | dict[str, Any], max_depth: int) -> dict[str, Any] | str:
    if isinstance(arguments, dict):
        return arguments
    if not arguments.strip():
        return {}
    try:
        parsed = loads_bounded(arguments, max_depth=max_depth, what="the string")
    except (JsonTooDeep, LoneSurrogate):
        raise
    except InvalidRequest:  # not JSON: the template gets the string as it is
        return arguments
    return parsed if isinstance(parsed, dict) else arguments


def function_tools(request: ChatCompletionRequest) -> list[dict[str, Any]]:
    """The request's function tools as plain objects, as chat templates render them."""
    return [
        t.model_dump(exclude_none=True, by_alias=True)
        for t in request.tools or []
        if isinstance(t, FunctionTool)
    ]


def has_media(messages: list[Message]) -> bool:
    """True if any message carries a non-text part (image, video, file, audio)."""
    return any(
        isinstance(m.content, list) and any(not isinstance(p, TextPart) for p in m.content)
        for m in messages
    )
