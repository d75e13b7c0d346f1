"""Typed errors carrying Z.AI business codes.

Raised where the problem is found, in any layer; turned into the Z.AI error body
``{"error": {"code": "<code>", "message": "..."}}`` in exactly one place
(``glmserve.api.errors``). The codes and messages follow Z.AI's error-code page.
"""

from __future__ import annotations


class GlmServeError(Exception):
    """Base class: an error with an HTTP status and a Z.AI business code."""

    status: int = 500
    code: str = "500"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status

    @property
    def should_retry(self) -> bool | None:
        """Value of the ``x-should-retry`` header, or None to leave the client's rule."""
        return None


class InvalidRequest(GlmServeError):
    """1210: the request could not be read (not JSON, not an object)."""

    status = 400
    code = "1210"


class ModelNotFound(GlmServeError):
    """1211: the model code is not served here."""

    status = 400
    code = "1211"

    def __init__(self, model: str):
        super().__init__(f"Model '{model}' does not exist, please check the model code.")
        self.model = model


class MissingField(GlmServeError):
    """1213: a required field is absent (or null)."""

    status = 400
    code = "1213"

    def __init__(self, field: str):
        super().__init__(f"The {field} parameter was not received properly.")
        self.field = field


class InvalidField(GlmServeError):
    """1214: a field has the wrong type or a value outside its range."""

    status = 400
    code = "1214"

    def __init__(self, field: str, reason: str):
        super().__init__(f"Invalid {field} parameter: {reason}")
        self.field = field


class ConflictingFields(GlmServeError):
    """1215: two fields that cannot be set together."""

    status = 400
    code = "1215"

    def __init__(self, first: str, second: str, reason: str = ""):
        detail = f" {reason}" if reason else ""
        super().__init__(
            f"{first} and {second} cannot be set simultaneously, "
            f"please check the documentation.{detail}"
        )


class PromptTooLong(GlmServeError):
    """1261: the rendered prompt does not fit the model's context window."""

    status = 400
    code = "1261"

    def __init__(self, prompt_tokens: int, context_size: int):
        super().__init__(
            f"Prompt exceeds max length: the prompt has {prompt_tokens} tokens and the model's "
            f"context window is {context_size} tokens."
        )


class ApiNotFound(GlmServeError):
    """1222: no such API path."""

    status = 404
    code = "1222"


class MethodNotSupported(GlmServeError):
    """1212: the path exists but not with this HTTP method."""

    status = 405
    code = "1212"


class HighTraffic(GlmServeError):
    """1312: the model's queue is full."""

    status = 429
    code = "1312"

    def __init__(self, model: str):
        super().__init__(
            f"This model is currently experiencing high traffic. Please try again later "
            f"({model} has too many requests waiting)."
        )


class EngineFailure(GlmServeError):
    """1234: generation failed inside the engine (Z.AI's 'network error')."""

    status = 500
    code = "1234"
