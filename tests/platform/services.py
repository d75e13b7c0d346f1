"""Throwaway PostgreSQL and Redis servers for the tests, started from the system's
binaries (Debian packages ``postgresql`` and ``redis-server``; ``.ci/run`` installs
them). Each lives in a temporary directory on a free port and is stopped at the end.

Without the binaries these tests are skipped, unless ``GLMSERVE_TEST_SERVICES=required``
(set by ``.ci/run``), which turns a missing server into a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import free_port

__all__ = ["Postgres", "Redis", "unavailable"]


def unavailable(what: str) -> None:
    if os.environ.get("GLMSERVE_TEST_SERVICES") == "required":
        pytest.fail(f"{what} is required (GLMSERVE_TEST_SERVICES=required) but not installed")
    pytest.skip(f"{what} is not installed")


def _as_postgres_user(cmd: list[str]) -> list[str]:
    # PostgreSQL refuses to run as root; CI machines run the tests as root.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class Postgres:
    def __init__(self, root: Path) -> None:
        binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = binaries[-1] if binaries else shutil.which("initdb")
        if initdb is None:
            unavailable("PostgreSQL (initdb)")
        assert initdb is not None
        bindir = Path(initdb).parent
        self.port = free_port()
        self.data = root / "pgdata"
        root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            root.chmod(0o755)
            for parent in root.parents:  # the postgres user must be able to reach it
                if str(parent).startswith(("/tmp", "/var/tmp")) and parent != Path("/tmp"):
                    parent.chmod(parent.stat().st_mode | 0o011)
        subprocess.run(
            _as_postgres_user(
                [initdb, "-D", str(self.data), "--auth=trust", "-U", "postgres", "-E", "UTF8"]
            ),
            check=True,
            capture_output=True,
        )
        self.log = root / "postgres.log"
        self.proc = subprocess.Popen(
            _as_postgres_user(
                [
                    str(bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(root),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=300",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=self.log.open("wb"),
        )
        self.base = f"postgresql://postgres@127.0.0.1:{self.port}"
        self._wait()

    def _wait(self) -> None:
        import psycopg

        for _ in range(300):  # about 30 s at most
            if self.proc.poll() is not None:
                raise RuntimeError(f"postgres exited:\n{self.log.read_text()}")
            try:
                psycopg.connect(f"{self.base}/postgres", connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"postgres did not start:\n{self.log.read_text()}")

    def new_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(f"{self.base}/postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"{self.base}/{name}"

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Redis:
    def __init__(self, root: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("Redis (redis-server)")
        assert binary is not None
        root.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(root),
            ],
            stdout=(root / "redis.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._wait()

    def _wait(self) -> None:
        import redis

        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited")
            try:
                redis.Redis.from_url(self.url).ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start")

    def flush(self) -> None:
        import redis

        redis.Redis.from_url(self.url).flushall()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
