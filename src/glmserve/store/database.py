"""Opening the database named by a URL: SQLite in the user data directory by default."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from glmserve.store.sql import SqlRepository

__all__ = ["StoreError", "default_database_url", "open_repository", "private_dir"]


class StoreError(Exception):
    """The database cannot be opened or migrated; the message says which and why."""


def default_database_url(data_dir: Path | None = None) -> str:
    folder = data_dir or Path(user_data_dir("glmserve", appauthor=False))
    return f"sqlite:///{folder / 'glmserve.db'}"


def private_dir(folder: Path) -> None:
    """Create ``folder`` (and its missing parents) readable by this user only: it holds
    every tenant's prompts, results and files. A folder that already exists is left as
    the operator made it."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()]
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for created in missing:  # mkdir applies the umask, and parents get the default mode
        created.chmod(0o700)


def _private_file(path: Path) -> None:
    """Create the SQLite file 0600 before SQLite does (it would make it 0644; its -wal
    and -shm files take the database file's mode)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def open_repository(url: str) -> SqlRepository:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise StoreError(f"database URL {url!r} is not a valid URL") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        # psycopg 3 is the driver we ship; "postgresql://" alone would ask for psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    elif backend != "sqlite":
        raise StoreError(f"database URL {url!r}: only sqlite:/// and postgresql:// are supported")
    options: dict[str, Any] = {"pool_pre_ping": True}
    if backend == "sqlite" and parsed.database:
        if parsed.database != ":memory:":
            database = Path(parsed.database).expanduser()
            private_dir(database.parent)
            _private_file(database)
        options["connect_args"] = {"timeout": 30}
    try:
        engine = create_engine(parsed, **options)
        if backend == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        return SqlRepository(engine)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot open the database {parsed.render_as_string()}: {exc}") from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL: readers never block the writer; several processes may share the file.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
