"""What files and batches store: the file objects, the batches and each batch's lines.

A batch's lines are copied from its input file when it is validated, so its progress
(one row per line, written when the line ends) outlives the gateway and the input file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["FileRow", "BatchRow", "BatchLineRow", "BatchStatus", "LineStatus"]

BatchStatus = Literal[
    "validating",
    "failed",
    "in_progress",
    "finalizing",
    "completed",
    "expired",
    "cancelling",
    "cancelled",
]

LineStatus = Literal["pending", "succeeded", "failed"]


@dataclass(frozen=True)
class FileRow:
    id: str
    key_id: str
    filename: str
    purpose: str
    bytes: int
    created_at: int


@dataclass(frozen=True)
class BatchRow:
    id: str
    key_id: str
    endpoint: str
    input_file_id: str
    completion_window: str
    status: BatchStatus
    created_at: int
    expires_at: int
    metadata_json: str | None = None
    auto_delete_input_file: bool = True
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors_json: str | None = None
    """Z.AI's ``errors.data``: the lines that could not be read, as JSON."""
    total: int = 0
    completed: int = 0
    failed: int = 0
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None


@dataclass(frozen=True)
class BatchLineRow:
    batch_id: str
    line: int
    """1-based line number in the input file."""
    custom_id: str
    request_json: str
    """The line's ``body``."""
    status: LineStatus = "pending"
    result_json: str | None = None
    """The line of the output or error file, once it has ended."""
