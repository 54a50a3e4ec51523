"""The migration lock, held on one dedicated connection while migrations are applied.

- PostgreSQL: ``pg_try_advisory_lock`` polled until the timeout on a connection of its own (not a
  pooled one), so waiting processes never block ``CREATE INDEX CONCURRENTLY``.
- SQLite: an exclusive transaction on a sidecar lock database next to the database file (the
  migrations themselves need the database file, so they cannot be locked out of it).
- MySQL/MariaDB: ``GET_LOCK(name, 0)`` polled until the timeout on a connection of its own
  (asyncmy, or aiomysql where Tortoise uses it), named after the database (the lock is
  server-wide), released by ``RELEASE_LOCK``.

A crashed process releases each of them (the session ends, the file lock drops). Release runs
shielded from cancellation.
"""

from __future__ import annotations

import hashlib
import inspect
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import anyio

from ..exceptions import DatabaseError, LockTimeout

LOCK_KEY = int.from_bytes(hashlib.sha256(b"tortoise_march_ext").digest()[:8], "big") >> 1
POLL_SECONDS = 0.1
SQLITE_BUSY, SQLITE_LOCKED = 5, 6  # primary result codes (sqlite3 names them from 3.11 on)


class MigrationLock(Protocol):
    """A lock that serialises migrating processes."""

    async def acquire(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the lock; raise LockTimeout after."""

    async def release(self) -> None:
        """Release the lock and close its connection."""

    @property
    def target(self) -> tuple[Any, ...]:
        """Return what the lock locks (one database), so that it is taken once per database."""


def _timed_out(label: str, timeout: float) -> LockTimeout:
    return LockTimeout(
        f"waited {timeout:g}s for the migration lock on {label}: another process is migrating; "
        "raise lock_timeout, or find the process that holds the lock"
    )


async def _poll(try_once: Any, timeout: float, label: str) -> None:
    deadline = time.monotonic() + timeout
    delay = POLL_SECONDS / 4
    while not await try_once():
        if time.monotonic() >= deadline:
            raise _timed_out(label, timeout)
        await anyio.sleep(min(delay, max(deadline - time.monotonic(), 0)))
        delay = min(delay * 2, POLL_SECONDS * 5)


def connect_kwargs(client: Any, connect: Any) -> dict[str, Any]:
    """Return the arguments of ``connect`` (asyncpg's) that open a connection like the pooled
    ones of Tortoise's asyncpg ``client``: its extra credentials (``ssl``, timeouts, ...)
    included, the pool-only ones (``max_inactive_connection_lifetime``, ...) left out."""
    accepted = inspect.signature(connect).parameters
    extra = {k: v for k, v in dict(getattr(client, "extra", {}) or {}).items() if k in accepted}
    settings = dict(getattr(client, "server_settings", {}) or {})
    # As Tortoise's create_connection sets them (it also writes them into server_settings).
    if getattr(client, "schema", None):
        settings["search_path"] = client.schema
    if getattr(client, "application_name", None):
        settings["application_name"] = client.application_name
    return {
        **extra,
        "host": client.host,
        "port": client.port,
        "user": client.user,
        "password": client.password,
        "database": client.database,
        "server_settings": settings,
    }


class _ServerLock:
    """A lock held on a dedicated connection to a database server (``conn`` once acquired)."""

    kind = ""

    def __init__(self, client: Any, label: str) -> None:
        self.client = client
        self.label = label
        self.conn: Any = None

    @property
    def target(self) -> tuple[Any, ...]:
        """Return the server and database."""
        c = self.client
        return (self.kind, c.host, c.port, c.database)


class PostgresLock(_ServerLock):
    """An advisory lock on a dedicated asyncpg connection."""

    kind = "postgres"

    async def acquire(self, timeout: float) -> None:
        """Open the dedicated connection and poll ``pg_try_advisory_lock``."""
        import asyncpg

        kwargs = connect_kwargs(self.client, asyncpg.connection.connect)
        self.conn = await asyncpg.connect(**kwargs)

        async def try_once() -> bool:
            return bool(await self.conn.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY))

        try:
            await _poll(try_once, timeout, self.label)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.conn.close()
            raise

    async def release(self) -> None:
        """Unlock and close, even when cancelled."""
        if self.conn is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                await self.conn.execute("SELECT pg_advisory_unlock($1)", LOCK_KEY)
            finally:
                await self.conn.close()
                self.conn = None


def _busy(exc: sqlite3.Error) -> bool:
    """Return whether ``exc`` says another connection holds the database (SQLITE_BUSY/LOCKED)."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:  # Python before 3.11
        return "locked" in str(exc)
    return (code & 0xFF) in (SQLITE_BUSY, SQLITE_LOCKED)


class SqliteLock:
    """An exclusive transaction on ``<database>.march-lock``."""

    def __init__(self, client: Any, label: str) -> None:
        self.path = str(getattr(client, "filename", ":memory:"))
        self.label = label
        self.conn: sqlite3.Connection | None = None

    @property
    def target(self) -> tuple[Any, ...]:
        """Return the database file."""
        return ("sqlite", os.path.realpath(self.path))

    async def acquire(self, timeout: float) -> None:
        """Poll ``BEGIN EXCLUSIVE`` on the sidecar file (no lock needed in memory)."""
        if self.path == ":memory:" or self.path.startswith("file::memory:"):
            return
        try:
            self.conn = sqlite3.connect(self.lock_path, timeout=0, isolation_level=None)
        except sqlite3.Error as exc:
            raise self._unusable(exc) from exc

        async def try_once() -> bool:
            assert self.conn is not None
            try:
                self.conn.execute("BEGIN EXCLUSIVE")
                return True
            except sqlite3.Error as exc:
                if _busy(exc):
                    return False
                raise self._unusable(exc) from exc

        try:
            await _poll(try_once, timeout, self.label)
        except BaseException:
            self.conn.close()
            self.conn = None
            raise

    @property
    def lock_path(self) -> str:
        """Return the sidecar lock file."""
        return f"{self.path}.march-lock"

    def _unusable(self, exc: sqlite3.Error) -> DatabaseError:
        return DatabaseError(
            f"cannot use the migration lock file {self.lock_path} of connection {self.label}: "
            f"{type(exc).__name__}: {exc}; it must be a SQLite database file that "
            "tortoise_march_ext creates: remove it (while no migration runs) and run again"
        )

    async def release(self) -> None:
        """End the transaction and close."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


MYSQL_LOCK_PREFIX = "tortoise_march_ext:"
MYSQL_LOCK_NAME_MAX = 64  # characters MySQL 5.7+ accepts in a GET_LOCK name


def mysql_lock_name(database: str) -> str:
    """Return the GET_LOCK name of ``database``: the prefix and the database name, or the
    prefix and a digest of the name where that would pass 64 characters."""
    name = f"{MYSQL_LOCK_PREFIX}{database}"
    if len(name) <= MYSQL_LOCK_NAME_MAX:
        return name
    digest = hashlib.sha256(database.encode()).hexdigest()
    return f"{MYSQL_LOCK_PREFIX}{digest[: MYSQL_LOCK_NAME_MAX - len(MYSQL_LOCK_PREFIX)]}"


def _mysql_driver() -> Any:
    """Return the MySQL driver module Tortoise uses: asyncmy, else aiomysql."""
    try:
        import asyncmy

        return asyncmy
    except ImportError:  # pragma: no cover - Tortoise's own fallback
        import aiomysql

        return aiomysql


def mysql_connect_kwargs(client: Any, connect: Any) -> dict[str, Any]:
    """Return the arguments of the driver's ``connect`` that open a connection like the pooled
    ones of Tortoise's MySQL ``client`` (its extra settings such as ``ssl`` and ``sql_mode``
    included, the pool-only ones left out), in autocommit mode."""
    accepted = inspect.signature(connect).parameters
    extra = dict(getattr(client, "extra", {}) or {})
    kwargs = {k: v for k, v in extra.items() if k in accepted}
    kwargs.update(
        host=client.host,
        port=client.port,
        user=client.user,
        password=client.password,
        db=client.database,
        charset=getattr(client, "charset", "utf8mb4"),
        autocommit=True,
    )
    return kwargs


class MysqlLock(_ServerLock):
    """A named lock (``GET_LOCK``) on a dedicated MySQL/MariaDB connection."""

    kind = "mysql"

    def __init__(self, client: Any, label: str) -> None:
        super().__init__(client, label)
        self.name = mysql_lock_name(str(client.database))

    async def _value(self, sql: str) -> Any:
        async with self.conn.cursor() as cursor:
            await cursor.execute(sql, (self.name,))
            row = await cursor.fetchone()
        return row[0] if row else None

    async def acquire(self, timeout: float) -> None:
        """Open the dedicated connection and poll ``GET_LOCK(name, 0)``."""
        driver = _mysql_driver()
        try:
            self.conn = await driver.connect(**mysql_connect_kwargs(self.client, driver.connect))
        except Exception as exc:
            raise DatabaseError(
                f"cannot open the migration lock's connection for {self.label}: "
                f"{type(exc).__name__}: {exc}; check that the server is running and the "
                "connection settings in the Tortoise config"
            ) from exc

        async def try_once() -> bool:
            got = await self._value("SELECT GET_LOCK(%s, 0)")
            if got is None:
                raise DatabaseError(
                    f"GET_LOCK({self.name!r}) failed on {self.label} (the server returned "
                    "NULL: out of memory or the thread was killed); run again"
                )
            return bool(got)

        try:
            await _poll(try_once, timeout, self.label)
        except BaseException:
            with anyio.CancelScope(shield=True):
                self.conn.close()
                self.conn = None
            raise

    async def release(self) -> None:
        """Release the lock and close, even when cancelled."""
        if self.conn is None:
            return
        with anyio.CancelScope(shield=True):
            try:
                await self._value("SELECT RELEASE_LOCK(%s)")
            finally:
                self.conn.close()
                self.conn = None


LOCKS: dict[str, type[PostgresLock] | type[SqliteLock] | type[MysqlLock]] = {
    "postgres": PostgresLock,
    "sqlite": SqliteLock,
    "mysql": MysqlLock,
}


def lock_for(client: Any, label: str) -> MigrationLock:
    """Return the migration lock of ``client``'s backend."""
    dialect = client.capabilities.dialect
    if dialect not in LOCKS:
        raise DatabaseError(
            f"connection {label}: no migration lock for the database dialect {dialect!r}; "
            f"supported: {', '.join(sorted(LOCKS))}"
        )
    return LOCKS[dialect](client, label)


@asynccontextmanager
async def holding(clients: Sequence[tuple[str, Any]], timeout: float) -> AsyncIterator[None]:
    """Hold the migration lock of each ``(connection name, client)``, released in ``finally``.

    Locks are taken in the order of the connection names, so that two processes that need the
    same connections cannot each hold one and wait for the other.
    """
    held: list[MigrationLock] = []
    try:
        for name, client in sorted(clients, key=lambda pair: pair[0]):
            lock = lock_for(client, repr(name))
            # Two connection names for one database: a second lock would wait for the first.
            if any(other.target == lock.target for other in held):
                continue
            await lock.acquire(timeout)
            held.append(lock)
        yield
    finally:
        for lock in reversed(held):
            await lock.release()
