"""Typed errors carrying Z.AI business codes.

Raised where the problem is found, in any layer; turned into the Z.AI error body
``{"error": {"code": "<code>", "message": "..."}}`` in exactly one place
(``glmserve.api.errors``). The codes and messages follow Z.AI's error-code page.
"""

from __future__ import annotations

import time


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
        self.prompt_tokens = prompt_tokens
        self.context_size = context_size


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

    @classmethod
    def generation_failed(cls, completion_id: str) -> EngineFailure:
        """The engine stopped mid-generation (its process died, a worker went away)."""
        return cls(f"Network error, error id: {completion_id}, generation failed.")


# --- authentication (HTTP 401, codes 1000-1004) ------------------------------------


class AuthenticationFailed(GlmServeError):
    """1000: the key is known but may not be used (revoked)."""

    status = 401
    code = "1000"


class CredentialMissing(GlmServeError):
    """1001: no Authorization (or x-api-key) header."""

    status = 401
    code = "1001"

    def __init__(self) -> None:
        super().__init__(
            "Authentication parameter not received in Header, please provide the API key "
            "as 'Authorization: Bearer <key>'."
        )


class TokenInvalid(GlmServeError):
    """1002: not a key or token we issued, or its signature does not match."""

    status = 401
    code = "1002"

    def __init__(self, detail: str = "") -> None:
        extra = f" ({detail})" if detail else ""
        super().__init__(
            "Authorization Token is invalid, please ensure that the Authorization Token "
            f"is correctly provided.{extra}"
        )


class TokenExpired(GlmServeError):
    """1003: a JWT whose millisecond ``exp`` has passed."""

    status = 401
    code = "1003"

    def __init__(self) -> None:
        super().__init__("Authorization Token has expired, please generate a new one.")


class AdminRequired(GlmServeError):
    """1004: the admin API needs the admin key."""

    status = 401
    code = "1004"

    def __init__(self) -> None:
        super().__init__("Authentication failed: this API needs the admin key.")


# --- account and limits (HTTP 429 unless said otherwise) ---------------------------


class BalanceExhausted(GlmServeError):
    """1113: the key's balance is used up; retrying cannot help until it is topped up."""

    status = 429
    code = "1113"

    def __init__(self) -> None:
        super().__init__(
            "Your account is in arrears (balance exhausted), please top up and try again."
        )

    @property
    def should_retry(self) -> bool | None:
        return False


class SensitiveContent(GlmServeError):
    """1301: the configured content filter blocked the input or the output (HTTP 400,
    as Z.AI answers it; a stream that is already under way ends with finish_reason
    ``sensitive`` instead)."""

    status = 400
    code = "1301"

    def __init__(self) -> None:
        super().__init__(
            "System detected potentially unsafe or sensitive content in input or generation. "
            "Please avoid using prompts that may generate sensitive content."
        )


class ConcurrencyExceeded(GlmServeError):
    """1302: the key already has its tier's number of requests in flight for the model."""

    status = 429
    code = "1302"

    def __init__(self, limit: int, model: str) -> None:
        super().__init__(
            f"High concurrency usage of this API, please reduce concurrency or contact "
            f"customer service to increase limits (at most {limit} concurrent requests "
            f"for {model})."
        )


class TooManyWaiting(GlmServeError):
    """1302: the key already has its cap of async tasks or batches waiting or running
    (``[platform] max_queued_tasks_per_key``)."""

    status = 429
    code = "1302"

    def __init__(self, what: str, limit: int) -> None:
        super().__init__(
            f"High concurrency usage of this API, please reduce concurrency: at most {limit} "
            f"{what} of one API key may wait or run at once."
        )


class KeyRevoked(GlmServeError):
    """1000: work queued under a key that has been revoked since (an async task, a
    batch) does not run."""

    status = 401
    code = "1000"

    def __init__(self) -> None:
        super().__init__("Authentication failed: this API key has been revoked.")


class FrequencyExceeded(GlmServeError):
    """1303: more requests per minute than the key's limit."""

    status = 429
    code = "1303"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"High frequency usage of this API, please reduce frequency or contact customer "
            f"service to increase limits (at most {limit} requests per minute)."
        )


class DailyLimitExceeded(GlmServeError):
    """1304: the key's requests for today are used up: retrying today cannot help."""

    status = 429
    code = "1304"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The daily call limit of this API has been reached ({limit} requests per day); "
            "please try again tomorrow or contact customer service to increase it."
        )

    @property
    def should_retry(self) -> bool | None:
        return False


class PermissionDenied(GlmServeError):
    """1220: the key may not use this API, or this part of it."""

    status = 403
    code = "1220"

    def __init__(self, api: str, reason: str = "") -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(f"You do not have permission to access {api}{detail}.")
        self.api = api


class ApiOffline(GlmServeError):
    """1221: the API is turned off on this server (by its configuration)."""

    status = 404
    code = "1221"

    def __init__(self, api: str, reason: str = "") -> None:
        detail = f" ({reason})" if reason else ""
        super().__init__(f"API {api} has been taken offline{detail}.")
        self.api = api


class RateLimited(GlmServeError):
    """1305: the server's requests per minute, all keys together, are used up."""

    status = 429
    code = "1305"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The API has triggered a rate limit (this server takes {limit} requests per "
            "minute in all); please try again shortly."
        )


class PolicyBlocked(GlmServeError):
    """1300: the operator's policy blocks the request (a blocked end user)."""

    status = 403
    code = "1300"

    def __init__(self, reason: str) -> None:
        super().__init__(f"API call blocked by policy: {reason}.")


class DuplicateRequest(GlmServeError):
    """1231: the same key already has a request with this request_id in flight."""

    status = 400
    code = "1231"

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"Duplicate request_id: a request with request_id {request_id!r} is already "
            "in progress for this API key."
        )


class TaskNotFound(GlmServeError):
    """404: no async task with this id for this key (other keys' tasks are not shown)."""

    status = 404
    code = "1214"

    def __init__(self, task_id: str) -> None:
        super().__init__(f"Invalid id parameter: task {task_id!r} does not exist.")
        self.task_id = task_id


class NotFound(GlmServeError):
    """404 for admin resources (an unknown key id)."""

    status = 404
    code = "1214"


class LimitsUnavailable(GlmServeError):
    """503: the shared limits store (Redis) cannot be reached; retrying may help."""

    status = 503
    code = "1234"

    def __init__(self) -> None:
        super().__init__("Network error: the rate-limit service is unreachable, try again.")


# --- request limits (docs/api.md, "Request limits") ---------------------------------


class BodyTooLarge(GlmServeError):
    """413: the request body is over ``[http] max_body_bytes``."""

    status = 413
    code = "1210"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is too large: at most {limit} bytes are accepted.")


class BodyTimeout(GlmServeError):
    """408: the request body did not arrive within ``[http] body_timeout_seconds``."""

    status = 408
    code = "1210"

    def __init__(self, seconds: float) -> None:
        super().__init__(f"The request body did not arrive within {seconds:g} seconds.")


class ContentTooLong(GlmServeError):
    """1261: the request's text is over a size limit, found before tokenizing it."""

    status = 400
    code = "1261"


class ClientGone(GlmServeError):
    """The client disconnected before its answer was ready; nobody reads this error (the
    status is nginx's "client closed request" for the logs and the usage record)."""

    status = 499
    code = "1210"

    def __init__(self) -> None:
        super().__init__("The client closed the request.")


class FileNotFound(GlmServeError):
    """404: no file with this id for this key (other keys' files are not shown)."""

    status = 404
    code = "1214"

    def __init__(self, file_id: str) -> None:
        super().__init__(f"Invalid file_id parameter: file {file_id!r} does not exist.")


class BatchNotFound(GlmServeError):
    """404: no batch with this id for this key (other keys' batches are not shown)."""

    status = 404
    code = "1214"

    def __init__(self, batch_id: str) -> None:
        super().__init__(f"Invalid batch_id parameter: batch {batch_id!r} does not exist.")


class FileTooLarge(GlmServeError):
    """HTTP 435: an upload over the size limit (Z.AI's status for a file over its 100 MB,
    with business code 1214)."""

    status = 435
    code = "1214"

    def __init__(self, limit: int) -> None:
        super().__init__(f"Invalid file parameter: the file is larger than {limit} bytes.")


class NotConfigured(GlmServeError):
    """1220: the API needs a part of the server the operator has not configured (a web
    search back end): the message names the config key to set."""

    status = 400
    code = "1220"

    def __init__(self, api: str, key: str) -> None:
        super().__init__(
            f"You do not have permission to access {api}: this server has no {key} "
            f"configured (set {key} in the config file, docs/search.md)."
        )


class UnreadablePage(GlmServeError):
    """1214: the URL given to the reader cannot be read (refused address, too large,
    too slow, not HTML or PDF): the message says why."""

    status = 400
    code = "1214"

    def __init__(self, reason: str) -> None:
        super().__init__(f"Invalid url parameter: {reason}.")


# --- account status and GLM Coding Plan (docs/plans.md) ----------------------------


class _Final(GlmServeError):
    """Retrying soon cannot help."""

    @property
    def should_retry(self) -> bool | None:
        return False


class AccountInactive(_Final):
    """1110: an administrator set the key inactive."""

    status = 429
    code = "1110"

    def __init__(self) -> None:
        super().__init__(
            "Your account is currently inactive. Please check your account information."
        )


class AccountLocked(_Final):
    """1112: an administrator locked the key."""

    status = 429
    code = "1112"

    def __init__(self) -> None:
        super().__init__("Your account has been locked, please contact customer service to unlock.")


class AccountSuspended(_Final):
    """1121: the key was locked for irregular activity."""

    status = 429
    code = "1121"

    def __init__(self) -> None:
        super().__init__("Account has irregular activities and has been locked.")


def flush_time(at: float) -> str:
    """``next_flush_time`` as the plan errors print it: UTC, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


class PromptQuotaExceeded(_Final):
    """1308: the plan's prompts of the rolling 5-hour window are used up."""

    status = 429
    code = "1308"

    def __init__(self, plan: str, next_flush: float) -> None:
        super().__init__(
            f"Usage limit reached for {plan}. Your limit will reset at {flush_time(next_flush)}"
        )
        self.next_flush = next_flush


class PlanExpired(_Final):
    """1309: the key's plan has ended (or is no longer defined)."""

    status = 403
    code = "1309"

    def __init__(self) -> None:
        super().__init__(
            "Your GLM Coding Plan package has expired and is temporarily unavailable. You can "
            "resume using it after renewing the subscription."
        )


class WeeklyQuotaExceeded(_Final):
    """1310: the plan's prompts of the rolling week are used up."""

    status = 429
    code = "1310"

    def __init__(self, next_flush: float) -> None:
        super().__init__(
            f"Weekly/Monthly Limit Exhausted. Your limit will reset at {flush_time(next_flush)}"
        )
        self.next_flush = next_flush


class ModelNotInPlan(_Final):
    """1311: the key's plan does not include the model."""

    status = 403
    code = "1311"

    def __init__(self, model: str) -> None:
        super().__init__(f"Your current subscription plan does not yet include access to {model}")


class FairUseRestricted(_Final):
    """1313: an administrator restricted the key under the fair-use policy."""

    status = 429
    code = "1313"

    def __init__(self) -> None:
        super().__init__(
            "Your usage violates the Fair Use Policy. Your request rate has been restricted. "
            "Ask the administrator to lift the restriction."
        )
