"""What a batch gives back: the Batch object, and its output and error files.

A line of either file has OpenAI's batch output shape (Z.AI documents no other):
``{"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"}``,
``body`` being exactly what the synchronous endpoint answers. A line that failed carries
its error body in ``response`` and its code and message in ``error``; a line that could
not be read has ``response: null`` and its line number in ``error``.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from glmserve.catalog import Price
from glmserve.platform.files import OUTPUT_PURPOSE, Files
from glmserve.store import BatchLineRow, BatchRow, FileRow, Repository

__all__ = ["LineOutcome", "batch_body", "line_result", "finish_files"]


@dataclass(frozen=True)
class LineOutcome:
    """How one line ended: the HTTP status and body the synchronous endpoint gives,
    and what the ledger needs."""

    status_code: int
    body: dict[str, Any]
    model: str
    price: Price | None
    """The batch price of the model (None: not billed)."""
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = ""


_STAMPS = (
    "in_progress_at",
    "expires_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "expired_at",
    "cancelling_at",
    "cancelled_at",
)


def batch_body(row: BatchRow) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": row.id,
        "object": "batch",
        "endpoint": row.endpoint,
        "input_file_id": row.input_file_id,
        "completion_window": row.completion_window,
        "status": row.status,
        "output_file_id": row.output_file_id or "",
        "error_file_id": row.error_file_id or "",
        "created_at": row.created_at,
    }
    for name in _STAMPS:
        body[name] = getattr(row, name)
    body["request_counts"] = {"total": row.total, "completed": row.completed, "failed": row.failed}
    body["metadata"] = json.loads(row.metadata_json) if row.metadata_json else None
    errors = json.loads(row.errors_json) if row.errors_json else None
    body["errors"] = {"object": "list", "data": errors} if errors else None
    return body


def line_result(batch_id: str, line: BatchLineRow, outcome: LineOutcome) -> dict[str, Any]:
    body = outcome.body
    error = None
    if outcome.status_code != 200:
        raw = body.get("error")
        detail = raw if isinstance(raw, dict) else {}
        error = {"code": str(detail.get("code", "")), "message": str(detail.get("message", ""))}
    request_id = body.get("request_id") or body.get("id") or line.custom_id
    return {
        "id": f"{batch_id}-{line.line}",
        "custom_id": line.custom_id,
        "response": {"status_code": outcome.status_code, "request_id": request_id, "body": body},
        "error": error,
    }


async def finish_files(
    repo: Repository, files: Files, row: BatchRow, *, expired: bool
) -> tuple[str | None, str | None]:
    """Write the output file (succeeded lines) and the error file (failed lines and,
    for an expired batch, the lines that never ran), in input order. Their ids follow
    from the batch's, so writing them again after a restart replaces, not duplicates."""
    succeeded = await asyncio.to_thread(repo.ended_lines, row.id, "succeeded")
    failed = await asyncio.to_thread(repo.ended_lines, row.id, "failed")
    error_lines = [(line.line, line.result_json or "") for line in failed]
    if expired:
        left = await asyncio.to_thread(repo.pending_lines, row.id, 10**9)
        error_lines += [(line.line, json.dumps(_expired(row.id, line))) for line in left]
    error_lines.sort()
    output = await _write(files, row, "output", [line.result_json or "" for line in succeeded])
    errors = await _write(files, row, "error", [text for _, text in error_lines])
    return output, errors


def _expired(batch_id: str, line: BatchLineRow) -> dict[str, Any]:
    return {
        "id": f"{batch_id}-{line.line}",
        "custom_id": line.custom_id,
        "response": None,
        "error": {"code": "batch_expired", "message": "the batch expired before this request ran."},
    }


async def _write(files: Files, row: BatchRow, which: str, lines: list[str]) -> str | None:
    if not lines:
        return None
    data = ("\n".join(lines) + "\n").encode("utf-8")
    file_row = FileRow(
        id=f"{row.id}_{which}",
        key_id=row.key_id,
        filename=f"{row.id}_{which}.jsonl",
        purpose=OUTPUT_PURPOSE,
        bytes=len(data),
        created_at=int(time.time()),
    )
    await files.save(file_row, data)
    return file_row.id
