"""Opening the database named by a URL: SQLite in the user data directory by default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from platformdirs import user_data_dir
from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from glmserve.store.sql import SqlRepository

__all__ = ["StoreError", "default_database_url", "open_repository"]


class StoreError(Exception):
    """The database cannot be opened or migrated; the message says which and why."""


def default_database_url(data_dir: Path | None = None) -> str:
    folder = data_dir or Path(user_data_dir("glmserve", appauthor=False))
    return f"sqlite:///{folder / 'glmserve.db'}"


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
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
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
