"""``POST /moderations``: each input through every configured back end, one result per
input, billed per call (``[safety] moderation_price`` USD; the ledger counts the calls
as its prompt tokens, so the record's cost is calls x price)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glmserve.catalog import Price
from glmserve.errors import ApiOffline, ModelNotFound
from glmserve.platform.admission import Admitted, Attempt
from glmserve.platform.ids import completion_id, now_seconds
from glmserve.protocol.moderations import (
    MODERATION_MODEL,
    ModerationResult,
    moderation_body,
    parse_moderation_request,
)
from glmserve.safety import SafetyPolicy, Verdict
from glmserve.serving.run.counted import CountedWork

__all__ = ["ModerationWork", "moderate"]


class ModerationWork(CountedWork):
    """A moderation request as the ledger follows it: each input is one call (its prompt
    tokens); a dropped request is checked to its end and recorded as it ended."""

    def __init__(self, calls: int) -> None:
        super().__init__(prompt_tokens=calls, cancellable=False)


def _result(verdict: Verdict) -> ModerationResult:
    if verdict.blocked:
        return ModerationResult("REJECT", verdict.categories)
    return ModerationResult("REVIEW" if verdict.flagged else "PASS", verdict.categories)


async def moderate(
    policy: SafetyPolicy, price_usd: float, body: Mapping[str, Any], metered: Attempt
) -> dict[str, Any]:
    request = parse_moderation_request(body)
    metered.describe(request.model, request.request_id)
    if request.model != MODERATION_MODEL:
        raise ModelNotFound(request.model)
    if not policy.active:
        raise ApiOffline(
            "moderations", "no content-safety back end is configured ([safety] in docs/safety.md)"
        )
    record_id = completion_id()
    await metered.admit(
        Admitted(
            record_id=record_id,
            model=request.model,
            request_id=request.request_id or record_id,
            client_request_id=request.request_id,
            stream=False,
            price=Price(price_usd * 1_000_000, 0.0, 0.0),
        )
    )
    work = ModerationWork(len(request.texts))
    metered.track(work)
    try:
        verdicts = [await policy.check_text(text) for text in request.texts]
    except BaseException:
        work.end(failed=True)
        raise
    work.end()
    return moderation_body(
        id=record_id,
        created=now_seconds(),
        request_id=request.request_id or record_id,
        model=request.model,
        results=[_result(v) for v in verdicts],
    )
