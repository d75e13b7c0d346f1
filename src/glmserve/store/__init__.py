"""Storage: SQLite by default, PostgreSQL for several gateway replicas.

The platform sees only ``Repository`` (records.py); ``open_repository`` returns one for
a database URL, migrated to the current schema.
"""

from glmserve.store.batch_records import (
    BatchLineRow,
    BatchRow,
    BatchStatus,
    FileRow,
    LineStatus,
)
from glmserve.store.database import (
    StoreError,
    default_database_url,
    open_repository,
    private_dir,
)
from glmserve.store.records import (
    KEY_STATUSES,
    NANO_PER_USD,
    KeyRow,
    KeyStatus,
    Repository,
    TaskRow,
    TaskStatus,
    UsageRecord,
    UsageSummary,
)

__all__ = [
    "NANO_PER_USD",
    "BatchLineRow",
    "BatchRow",
    "BatchStatus",
    "FileRow",
    "LineStatus",
    "KEY_STATUSES",
    "KeyRow",
    "KeyStatus",
    "Repository",
    "StoreError",
    "TaskRow",
    "TaskStatus",
    "UsageRecord",
    "UsageSummary",
    "default_database_url",
    "open_repository",
    "private_dir",
]
