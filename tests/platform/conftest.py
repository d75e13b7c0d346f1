"""Fixtures of the platform tests: real databases and a real Redis."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from glmserve.store import Repository, open_repository
from tests.platform.services import Postgres, Redis


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    server = Postgres(tmp_path_factory.mktemp("postgres"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Redis]:
    server = Redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'glmserve.db'}"
    postgres: Postgres = request.getfixturevalue("postgres")
    return postgres.new_database(f"t_{secrets.token_hex(6)}")


@pytest.fixture
def repository(database_url: str) -> Iterator[Repository]:
    repo = open_repository(database_url)
    yield repo
    repo.close()
