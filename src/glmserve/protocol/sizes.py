"""How much text a chat request carries, checked against the ``[http]`` limits before
anything renders or tokenizes it (docs/api.md, "Request limits").

Counted in characters of text: message content (text parts; images and other media
are bounded by the body size alone), reasoning, tool-call arguments, and the tool
definitions, which the template renders into the prompt too.
"""

from __future__ import annotations

import json
from typing import Any

from glmserve.config import HttpSettings
from glmserve.errors import ContentTooLong, InvalidField
from glmserve.protocol.chat import ChatCompletionRequest, Message, TextPart

__all__ = ["check_sizes"]


def check_sizes(request: ChatCompletionRequest, limits: HttpSettings) -> None:
    if len(request.messages) > limits.max_messages:
        raise InvalidField(
            "messages",
            f"{len(request.messages)} messages; at most {limits.max_messages} are accepted.",
        )
    total = len(_dumps([t.model_dump(exclude_none=True) for t in request.tools or []]))
    for i, message in enumerate(request.messages):
        size = message_chars(message)
        if size > limits.max_message_chars:
            raise ContentTooLong(
                f"messages[{i}] holds {size} characters of text; at most "
                f"{limits.max_message_chars} are accepted in one message."
            )
        total += size
        if total > limits.max_total_chars:
            raise ContentTooLong(
                f"The request holds more than {limits.max_total_chars} characters of text, "
                "the most accepted."
            )


def message_chars(message: Message) -> int:
    size = 0
    if isinstance(message.content, str):
        size += len(message.content)
    elif message.content is not None:
        size += sum(len(p.text) for p in message.content if isinstance(p, TextPart))
    for text in (message.reasoning_content, message.reasoning):
        size += len(text or "")
    for call in message.tool_calls or []:
        arguments = call.function.arguments
        size += len(arguments) if isinstance(arguments, str) else len(_dumps(arguments))
    return size


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
