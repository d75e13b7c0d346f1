"""What a batch keeps in the store for its lines: the line rows of a validated file,
the error line of a line that could not be stored, and a line's usage record, with its
strings as every store takes them (no NUL, no lone surrogate, within the columns)."""

from __future__ import annotations

import json
import time

from glmserve.platform.batch_input import LineError, ParsedLine
from glmserve.platform.batch_output import LineOutcome
from glmserve.platform.usage import cost_nano, today
from glmserve.store import BatchLineRow, BatchRow, UsageRecord

__all__ = ["line_rows", "broken_result", "usage_record"]


def line_rows(batch_id: str, good: list[ParsedLine], bad: list[LineError]) -> list[BatchLineRow]:
    rows = [
        BatchLineRow(batch_id, p.line, p.custom_id, json.dumps(p.body, ensure_ascii=False))
        for p in good
    ]
    return rows + [_invalid_line(batch_id, e) for e in bad]


def broken_result(row: BatchRow, line: BatchLineRow, exc: Exception) -> str:
    error = {
        "code": "1234",
        "message": f"the line's result could not be stored ({type(exc).__name__}).",
        "line": line.line,
    }
    return json.dumps(
        {
            "id": f"{row.id}-{line.line}",
            "custom_id": line.custom_id,
            "response": None,
            "error": error,
        }
    )


def _stored(text: str, size: int) -> str:
    """``text`` as every store keeps it: no NUL, no lone surrogate, at most ``size``
    characters (the ledger's columns)."""
    clean = text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    return clean[:size]


def _invalid_line(batch_id: str, error: LineError) -> BatchLineRow:
    result = {
        "id": f"{batch_id}-{error.line}",
        "custom_id": error.custom_id,
        "response": None,
        "error": {"code": error.code, "message": error.message, "line": error.line},
    }
    return BatchLineRow(
        batch_id, error.line, error.custom_id or "", "null", "failed", json.dumps(result)
    )


def usage_record(
    row: BatchRow, line: BatchLineRow, outcome: LineOutcome, seconds: float
) -> UsageRecord:
    now = time.time()
    ok = outcome.status_code == 200
    error = outcome.body.get("error") if not ok else None
    return UsageRecord(
        record_id=f"{row.id}-{line.line}",
        key_id=row.key_id,
        model=_stored(outcome.model or "unknown", 128),
        request_id=_stored(line.custom_id, 128),
        kind="batch",
        status="success" if ok else "error",
        created_at=int(now),
        day=today(now),
        prompt_tokens=outcome.prompt_tokens,
        cached_tokens=outcome.cached_tokens,
        completion_tokens=outcome.completion_tokens,
        finish_reason=outcome.finish_reason,
        error_code=str(error.get("code", ""))[:16] if isinstance(error, dict) else "",
        latency_ms=int(seconds * 1000),
        cost_nano=cost_nano(outcome.price, outcome) if ok else 0,
    )
