"""Shared fixtures: fresh PostgreSQL and MariaDB databases (skip locally, fail in CI when
unreachable)."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.harness import Backend

PG_HOST = os.environ.get("MARCH_TEST_PG", "postgres://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() == "true"
PG_UNREACHABLE = "PostgreSQL at"
_pg_state: dict[str, object] = {}
MYSQL_HOST = os.environ.get("MARCH_TEST_MYSQL", "mysql://root:@127.0.0.1:3306")
MYSQL_UNREACHABLE = "MySQL/MariaDB at"
_mysql_state: dict[str, object] = {}


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(f"{PG_HOST}/postgres", timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _pg_available() -> str | None:
    """Return None when PostgreSQL answers, else the reason it does not."""
    if "reason" not in _pg_state:
        try:
            asyncio.run(_admin("SELECT 1"))
            _pg_state["reason"] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            _pg_state["reason"] = f"{type(exc).__name__}: {exc}"
    return _pg_state["reason"]  # type: ignore[return-value]


def require_postgres() -> None:
    """Skip (or fail in CI) when PostgreSQL is not reachable."""
    reason = _pg_available()
    if reason is None:
        return
    message = f"{PG_UNREACHABLE} {PG_HOST} is unreachable ({reason})"
    if IN_CI:
        pytest.fail(message + "; CI=true requires it", pytrace=False)
    pytest.skip(message + "; start it or set MARCH_TEST_PG=postgres://user@host:port")


def new_pg_database() -> str:
    """Create an empty database and return its URL."""
    require_postgres()
    name = f"march_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    return f"{PG_HOST}/{name}"


def drop_pg_database(url: str) -> None:
    """Drop a database made by :func:`new_pg_database`."""
    name = url.rsplit("/", 1)[1]
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _mysql_parts() -> dict[str, object]:
    from urllib.parse import urlsplit

    parts = urlsplit(MYSQL_HOST)
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 3306,
        "user": parts.username or "root",
        "password": parts.password or "",
    }


async def _mysql_admin(sql: str) -> None:
    import asyncmy

    conn = await asyncmy.connect(**_mysql_parts(), connect_timeout=5)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(sql)
    finally:
        conn.close()


def _mysql_available() -> str | None:
    """Return None when MySQL/MariaDB answers, else the reason it does not."""
    if "reason" not in _mysql_state:
        try:
            asyncio.run(_mysql_admin("SELECT 1"))
            _mysql_state["reason"] = None
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            _mysql_state["reason"] = f"{type(exc).__name__}: {exc}"
    return _mysql_state["reason"]  # type: ignore[return-value]


def require_mysql() -> None:
    """Skip (or fail in CI) when MySQL/MariaDB is not reachable."""
    reason = _mysql_available()
    if reason is None:
        return
    message = f"{MYSQL_UNREACHABLE} {MYSQL_HOST} is unreachable ({reason})"
    if IN_CI:
        pytest.fail(message + "; CI=true requires it", pytrace=False)
    pytest.skip(message + "; start it or set MARCH_TEST_MYSQL=mysql://user:password@host:port")


def new_mysql_database() -> str:
    """Create an empty MySQL/MariaDB database (utf8mb4) and return its URL."""
    require_mysql()
    name = f"march_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_mysql_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4"))
    return f"{MYSQL_HOST}/{name}"


def drop_mysql_database(url: str) -> None:
    """Drop a database made by :func:`new_mysql_database`."""
    name = url.rsplit("/", 1)[1]
    asyncio.run(_mysql_admin(f"DROP DATABASE IF EXISTS `{name}`"))


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """Yield the URL of a fresh MariaDB/MySQL database, dropped afterwards."""
    url = new_mysql_database()
    try:
        yield url
    finally:
        drop_mysql_database(url)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """Yield the URL of a fresh PostgreSQL database, dropped afterwards."""
    url = new_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Yield each backend the harness drives (PostgreSQL and MySQL/MariaDB required in CI),
    cleaned up after."""
    from tests.harness import Backend

    if request.param == "postgres":
        require_postgres()
    if request.param == "mysql":
        require_mysql()
    made = Backend(request.param, tmp_path)
    yield made
    made.cleanup()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say in one line when the PostgreSQL tests were skipped and how to enable them.

    Under pytest-xdist the skips happen in the workers, so the reports are what tells.
    """
    skipped = terminalreporter.stats.get("skipped", [])
    if IN_CI:
        return
    reasons = " ".join(str(getattr(r, "longrepr", "")) for r in skipped)
    if PG_UNREACHABLE in reasons:
        terminalreporter.write_line(
            f"PostgreSQL tests were skipped: {PG_HOST} is unreachable. Start PostgreSQL on "
            "127.0.0.1:5432 (user postgres, trust auth) or set "
            "MARCH_TEST_PG=postgres://user@host:port to run them."
        )
    if MYSQL_UNREACHABLE in reasons:
        terminalreporter.write_line(
            f"MySQL/MariaDB tests were skipped: {MYSQL_HOST} is unreachable. Start MariaDB on "
            "127.0.0.1:3306 (user root, empty password) or set "
            "MARCH_TEST_MYSQL=mysql://user:password@host:port to run them."
        )
