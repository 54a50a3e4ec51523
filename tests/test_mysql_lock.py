"""The MySQL/MariaDB migration lock: ``GET_LOCK`` on a dedicated connection.

Real MariaDB and real processes: one process holds the lock, another cannot take it until the
first releases it or dies; the lock lives on a connection of its own (not one of Tortoise's
pool) and its name follows the database, cut to MySQL's 64 characters.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.backends.mysql.client import MySQLClient

from tests.conftest import _mysql_parts
from tortoise_march_ext.backends.locks import MYSQL_LOCK_NAME_MAX, holding, mysql_lock_name
from tortoise_march_ext.exceptions import LockTimeout

# Hold the migration lock of the database at argv[1] until the file argv[2] appears, printing
# "held <connection id>" once it is held (the connection id is the lock connection's).
HOLDER = textwrap.dedent(
    """
    import asyncio, sys, time
    from pathlib import Path
    from tortoise.backends.base.config_generator import expand_db_url
    from tortoise.backends.mysql.client import MySQLClient
    from tortoise_march_ext.backends.locks import holding

    async def main():
        url, stop = sys.argv[1], Path(sys.argv[2])
        client = MySQLClient(connection_name="default", **expand_db_url(url)["credentials"])
        try:
            async with holding([("default", client)], 5):
                print("held", flush=True)
                deadline = time.monotonic() + 60
                while not stop.exists() and time.monotonic() < deadline:
                    await asyncio.sleep(0.02)
            print("released", flush=True)
        finally:
            await client.close()

    asyncio.run(main())
    """
)


def mysql_client(url: str) -> Any:
    """Return a Tortoise MySQL client of ``url`` (it connects on its first query)."""
    return MySQLClient(connection_name="default", **expand_db_url(url)["credentials"])


def database_of(url: str) -> str:
    """Return the database name of a ``mysql://.../DB`` URL."""
    return url.rsplit("/", 1)[1]


async def _fetch(sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import asyncmy

    conn = await asyncmy.connect(**_mysql_parts(), autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(sql, args)
            return [tuple(r) for r in await cursor.fetchall()]
    finally:
        conn.close()


def fetch(sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one query on the server (no database selected) and return its rows."""
    return asyncio.run(_fetch(sql, *args))


def lock_holder(url: str) -> int | None:
    """Return the connection id holding the migration lock of ``url``'s database, or None."""
    return fetch("SELECT IS_USED_LOCK(%s)", mysql_lock_name(database_of(url)))[0][0]


def start_holder(url: str, stop: Path) -> subprocess.Popen[str]:
    """Start a process that holds the lock until ``stop`` exists; return once it holds it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url, str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if line.strip() != "held":
        proc.kill()
        raise AssertionError(f"the holder did not take the lock: {line!r} {proc.communicate()}")
    return proc


async def try_lock(url: str, timeout: float) -> tuple[bool, float, int | None]:
    """Try to take the lock of ``url`` within ``timeout``; return (got it, seconds, holder id
    seen while held)."""
    client = mysql_client(url)
    start = time.monotonic()
    try:
        async with holding([("default", client)], timeout):
            seen = await asyncio.to_thread(lock_holder, url)
            _, rows = await client.execute_query("SELECT CONNECTION_ID() AS id")
            pooled = int(rows[0]["id"])
            assert seen is not None and seen != pooled, "the lock must not use a pooled connection"
            return True, time.monotonic() - start, seen
    except LockTimeout as exc:
        assert "another process is migrating" in str(exc)
        return False, time.monotonic() - start, None
    finally:
        await client.close()


def test_two_processes_exclude_each_other(mysql_url: str, tmp_path: Path) -> None:
    stop = tmp_path / "stop"
    holder = start_holder(mysql_url, stop)
    try:
        assert lock_holder(mysql_url) is not None
        got, waited, _ = asyncio.run(try_lock(mysql_url, 0.6))
        assert not got
        assert 0.5 <= waited < 5  # polled until the timeout, not an unbounded wait
        stop.touch()
        assert holder.wait(timeout=30) == 0
        assert "released" in (holder.stdout.read() if holder.stdout else "")
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    assert lock_holder(mysql_url) is None  # RELEASE_LOCK ran
    got, _, seen = asyncio.run(try_lock(mysql_url, 5))
    assert got and seen is not None
    assert lock_holder(mysql_url) is None


def test_a_killed_holder_releases_the_lock(mysql_url: str, tmp_path: Path) -> None:
    holder = start_holder(mysql_url, tmp_path / "never")
    try:
        assert lock_holder(mysql_url) is not None
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
    got, waited, _ = asyncio.run(try_lock(mysql_url, 10))
    assert got, "the server must drop the lock of a connection whose process died"
    assert waited < 10


def test_two_databases_on_one_server_have_separate_locks(mysql_url: str, tmp_path: Path) -> None:
    from tests.conftest import drop_mysql_database, new_mysql_database

    other = new_mysql_database()
    holder = start_holder(mysql_url, tmp_path / "stop")
    try:
        got, _, _ = asyncio.run(try_lock(other, 2))
        assert got, "GET_LOCK names are server-wide: each database needs its own name"
    finally:
        (tmp_path / "stop").touch()
        holder.wait(timeout=30)
        drop_mysql_database(other)


@pytest.mark.parametrize("database", ["shop", "x" * 64, "é" * 50])
def test_lock_names_fit_mysql(database: str) -> None:
    name = mysql_lock_name(database)
    assert len(name) <= MYSQL_LOCK_NAME_MAX
    assert name.startswith("tortoise_march_ext:")
    assert name != mysql_lock_name(database + "2")


def test_a_long_name_is_accepted_by_the_server() -> None:
    from tests.conftest import require_mysql

    require_mysql()
    name = mysql_lock_name("d" * 64)
    rows = fetch("SELECT GET_LOCK(%s, 0), RELEASE_LOCK(%s)", name, name)
    assert rows == [(1, 1)]


def test_eight_processes_start_the_contacts_example_at_once(mysql_url: str, tmp_path: Path) -> None:
    from tests.test_concurrency import CONTACT_TABLES, PROCESSES, migrate_at_once
    from tests.test_examples import INITIAL, copy_example

    folder = copy_example("contacts_app", tmp_path)
    outcomes = migrate_at_once(folder, mysql_url, tmp_path / "barrier")
    assert len(outcomes) == PROCESSES
    failures = [o for o in outcomes if o.returncode != 0 or o.stderr.strip()]
    assert not failures, "\n\n".join(f"exit {o.returncode}\n{o.stderr}" for o in failures)
    applied = [o.report["applied"] for o in outcomes if o.report["applied"]]
    assert applied == [["contacts.0001_initial"]], [o.report for o in outcomes]
    database = database_of(mysql_url)
    recorded = fetch(f"SELECT app, name FROM `{database}`.tortoise_march_migrations")
    assert [tuple(r) for r in recorded] == [tuple(k) for k in INITIAL]
    tables = fetch(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", database
    )
    assert CONTACT_TABLES <= {r[0] for r in tables}
    assert fetch(f"SELECT COUNT(*) FROM `{database}`.tortoise_march_progress") == [(0,)]
    assert lock_holder(mysql_url) is None
