"""Test databases for the pytest plugin: names, a session template, and a fresh copy per test.

The template is migrated once per session (per pytest-xdist worker); each test gets a copy:
SQLite a file copy, PostgreSQL with ``TORTOISE_MARCH_TEST_DB=template`` ``CREATE DATABASE copy
TEMPLATE tpl``. By default PostgreSQL's work database is reset after each test instead
(:mod:`.pg_reset`, much faster), and so is MySQL/MariaDB's, which has no database copy: every
table that has rows or whose AUTO_INCREMENT moved is truncated, and the rows the migrations
left (data migrations) are put back from a snapshot. All database work runs on one background
event loop (:class:`Runner`), so it is independent of the loop a test uses.
"""

from __future__ import annotations

import asyncio
import copy
import os
import shutil
import tempfile
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from tortoise.backends.base.config_generator import expand_db_url

from ..backends import editor_for
from ..config import MarchConfig
from ..exceptions import ConfigError
from .pg_reset import PgReset

T = TypeVar("T")
RECORDER_TABLES = ("tortoise_march_migrations", "tortoise_march_progress")
ENV_MODE = "TORTOISE_MARCH_TEST_DB"
MODES = ("reset", "template")


def postgres_mode() -> str:
    """Return how PostgreSQL tests get their database: ``reset`` (default: the work database,
    reset after each test) or ``template`` (``CREATE DATABASE ... TEMPLATE`` per test)."""
    mode = os.environ.get(ENV_MODE, "reset").strip().lower() or "reset"
    if mode not in MODES:
        raise ConfigError(f"environment {ENV_MODE}={mode!r}; use one of {', '.join(MODES)}")
    return mode


class Runner:
    """One event loop in a daemon thread; :meth:`run` waits for a coroutine on it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the background loop and return its result."""
        future: Future[T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    def close(self) -> None:
        """Stop the loop and its thread."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


def dialect_of(engine: str) -> str:
    """Return ``postgres``, ``sqlite`` or ``mysql`` for a Tortoise engine path."""
    for dialect, marks in (
        ("postgres", ("asyncpg", "psycopg")),
        ("sqlite", ("sqlite",)),
        ("mysql", ("mysql",)),
    ):
        if any(mark in engine for mark in marks):
            return dialect
    raise ConfigError(f"test databases: engine {engine!r} is not PostgreSQL, SQLite or MySQL")


def _expanded(value: Any) -> dict[str, Any]:
    """Return a Tortoise connection (URL or dict) as ``{"engine", "credentials"}``."""
    if isinstance(value, str):
        try:
            return expand_db_url(value)
        except Exception as exc:
            raise ConfigError(f"test databases: cannot read the URL {value!r} ({exc})") from exc
    return copy.deepcopy(dict(value))


def xdist_suffix() -> str:
    """Return ``_gw0`` under a pytest-xdist worker, else an empty string."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"_{worker}" if worker else ""


@dataclass
class Target:
    """One connection's test database: the template's credentials and how to name copies."""

    connection: str
    engine: str
    credentials: dict[str, Any]
    folder: Path

    @property
    def dialect(self) -> str:
        """Return the backend of this connection."""
        return dialect_of(self.engine)

    @property
    def name(self) -> str:
        """Return the template's database name (SQLite: its file path)."""
        key = "file_path" if self.dialect == "sqlite" else "database"
        return str(self.credentials[key])

    def config_for(self, name: str) -> dict[str, Any]:
        """Return the Tortoise connection dict of database ``name`` (SQLite: a file path)."""
        key = "file_path" if self.dialect == "sqlite" else "database"
        return {"engine": self.engine, "credentials": {**self.credentials, key: name}}

    def copy_name(self, number: int) -> str:
        """Return the name of the ``number``-th copy (or of a scratch database: ``number`` 0)."""
        if self.dialect == "sqlite":
            return str(self.folder / f"{Path(self.name).stem}_{number}.sqlite3")
        return f"{self.name}_{number}"


def targets(config: MarchConfig, folder: Path) -> dict[str, Target]:
    """Return each connection's test database: ``test_db_url`` for the default connection (or
    the only one), else the connection's database with a ``test_`` prefix (SQLite: a file in
    ``folder``), with the pytest-xdist worker's name appended."""
    connections = config.load_tortoise_config().get("connections", {})
    if not connections:
        raise ConfigError("test databases: the Tortoise config has no connections")
    main = (
        "default" if "default" in connections or len(connections) != 1 else next(iter(connections))
    )
    out: dict[str, Target] = {}
    for name, value in connections.items():
        explicit = config.test_db_url if name == main else None
        spec = _expanded(explicit or value)
        engine, credentials = spec["engine"], dict(spec.get("credentials", {}))
        target = Target(name, engine, credentials, folder)
        suffix = xdist_suffix()
        if target.dialect == "sqlite":
            stem = Path(str(credentials.get("file_path", "db"))).stem or "db"
            prefix = "" if explicit else "test_"
            credentials["file_path"] = str(folder / f"{prefix}{stem}{suffix}.sqlite3")
        else:
            database = str(credentials.get("database") or "")
            if not database:
                raise ConfigError(f"test databases: connection {name!r} names no database")
            credentials["database"] = (database if explicit else f"test_{database}") + suffix
        out[name] = target
    return out


def tortoise_config_for(
    config: MarchConfig, databases: dict[str, str], all_: dict[str, Target]
) -> dict[str, Any]:
    """Return the project's Tortoise config with each connection on the database named in
    ``databases`` (connection -> database name or SQLite path)."""
    tortoise = copy.deepcopy(config.load_tortoise_config())
    tortoise["connections"] = {
        name: all_[name].config_for(databases[name]) for name in tortoise["connections"]
    }
    return tortoise


def march_config_for(config: MarchConfig, tortoise: dict[str, Any]) -> MarchConfig:
    """Return ``config`` pointing at the Tortoise config ``tortoise``."""
    return replace(config, tortoise_config=tortoise)


# -- server operations ---------------------------------------------------------------------------
async def _pg_connect(target: Target) -> Any:
    import asyncpg

    c = target.credentials
    return await asyncpg.connect(
        host=c.get("host"),
        port=int(c.get("port") or 5432),
        user=c.get("user"),
        password=c.get("password") or None,
        database="postgres",
        timeout=10,
    )


async def _mysql_connect(target: Target, database: str | None = None) -> Any:
    import asyncmy

    c = target.credentials
    return await asyncmy.connect(
        host=c.get("host") or "127.0.0.1",
        port=int(c.get("port") or 3306),
        user=c.get("user") or "root",
        password=c.get("password") or "",
        database=database,
        autocommit=True,
        connect_timeout=10,
    )


@dataclass
class Server:
    """The admin side of one target: create, copy, reset and drop its databases."""

    target: Target
    made: list[str] = field(default_factory=list)
    _conn: Any = None
    _seeded: dict[str, int] = field(default_factory=dict)
    _counters: dict[str, Any] = field(default_factory=dict)
    _pg: PgReset | None = None

    @property
    def resets(self) -> bool:
        """Return whether tests share one work database reset after each (MySQL always;
        PostgreSQL unless ``TORTOISE_MARCH_TEST_DB=template``) rather than get copies."""
        dialect = self.target.dialect
        return dialect == "mysql" or (dialect == "postgres" and postgres_mode() == "reset")

    @property
    def q(self) -> Any:
        """Return the editor's identifier quoting function."""
        return editor_for(self.target.dialect).quote

    async def _admin(self) -> Any:
        if self._conn is None:
            if self.target.dialect == "postgres":
                self._conn = await _pg_connect(self.target)
            else:
                self._conn = await _mysql_connect(self.target)
        return self._conn

    async def _sql(self, sql: str) -> list[Any]:
        conn = await self._admin()
        if self.target.dialect == "postgres":
            return list(await conn.fetch(sql))
        async with conn.cursor() as cursor:
            await cursor.execute(sql)
            return list(await cursor.fetchall() or [])

    async def create_empty(self, name: str) -> None:
        """Create database ``name`` empty, dropping a leftover of an earlier session first."""
        self.made.append(name)
        if self.target.dialect == "sqlite":
            Path(name).unlink(missing_ok=True)
            return
        await self._sql(f"DROP DATABASE IF EXISTS {self.q(name)}")
        extra = " CHARACTER SET utf8mb4" if self.target.dialect == "mysql" else ""
        await self._sql(f"CREATE DATABASE {self.q(name)}{extra}")

    async def copy(self, name: str) -> None:
        """Make database ``name`` a copy of the migrated template."""
        self.made.append(name)
        if self.target.dialect == "sqlite":
            shutil.copyfile(self.target.name, name)
            return
        await self._sql(f"DROP DATABASE IF EXISTS {self.q(name)}")
        await self._sql(f"CREATE DATABASE {self.q(name)} TEMPLATE {self.q(self.target.name)}")

    async def drop(self, name: str) -> None:
        """Drop database ``name`` (one of ours: a copy may still have the test's connections)."""
        if name in self.made:
            self.made.remove(name)
        if self.target.dialect == "sqlite":
            for path in (Path(name), Path(name + "-wal"), Path(name + "-shm")):
                path.unlink(missing_ok=True)
            return
        force = " WITH (FORCE)" if self.target.dialect == "postgres" else ""
        await self._sql(f"DROP DATABASE IF EXISTS {self.q(name)}{force}")

    # -- MySQL: one work database, reset after each test ------------------------------------------
    def _in(self, table: str, database: str | None = None) -> str:
        return f"{self.q(database or self.target.name)}.{self.q(table)}"

    async def _tables(self) -> dict[str, Any]:
        """Return each table of the work database with its AUTO_INCREMENT counter."""
        name = editor_for("mysql").literal(self.target.name)
        rows = await self._sql(
            "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
            f"WHERE TABLE_SCHEMA = {name} AND TABLE_TYPE = 'BASE TABLE'"
        )
        return {str(r[0]): r[1] for r in rows if r[0] not in RECORDER_TABLES}

    async def _with_rows(self, tables: list[str]) -> set[str]:
        if not tables:
            return set()
        literal = editor_for("mysql").literal
        parts = [
            f"SELECT {literal(t)} FROM (SELECT 1 FROM {self._in(t)} LIMIT 1) AS x{i}"
            for i, t in enumerate(tables)
        ]
        return {str(r[0]) for r in await self._sql(" UNION ALL ".join(parts))}

    @property
    def _seed_db(self) -> str:
        return f"{self.target.name}_seed"

    async def snapshot(self) -> None:
        """Remember the migrated work database: counters, and the rows migrations left."""
        if self.target.dialect == "postgres":
            import asyncpg

            c = self.target.credentials
            conn = await asyncpg.connect(
                host=c.get("host"),
                port=int(c.get("port") or 5432),
                user=c.get("user"),
                password=c.get("password") or None,
                database=self.target.name,
                timeout=10,
            )
            self._pg = PgReset(conn)
            await self._pg.snapshot()
            return
        self._counters = await self._tables()
        seeded = sorted(await self._with_rows(sorted(self._counters)))
        await self.create_empty(self._seed_db)
        for table in seeded:
            await self._sql(f"CREATE TABLE {self._in(table, self._seed_db)} LIKE {self._in(table)}")
            await self._sql(
                f"INSERT INTO {self._in(table, self._seed_db)} SELECT * FROM {self._in(table)}"
            )
            self._seeded[table] = 1

    async def reset(self) -> None:
        """Bring the work database back to the snapshot: truncate what the test touched."""
        if self._pg is not None:
            await self._pg.reset()
            return
        now = await self._tables()
        touched = await self._with_rows(sorted(now))
        touched |= {t for t, counter in now.items() if counter != self._counters.get(t)}
        touched |= set(self._seeded) & set(now)
        if not touched:
            return
        statements = ["SET FOREIGN_KEY_CHECKS = 0"]
        for table in sorted(touched):
            statements.append(f"TRUNCATE TABLE {self._in(table)}")
            if table in self._seeded:
                statements.append(
                    f"INSERT INTO {self._in(table)} SELECT * FROM {self._in(table, self._seed_db)}"
                )
        statements.append("SET FOREIGN_KEY_CHECKS = 1")
        for sql in statements:
            await self._sql(sql)
        self._counters = await self._tables()

    async def close(self) -> None:
        """Drop every database this server made and close the admin connection."""
        if self._pg is not None:
            await self._pg.conn.close()
            self._pg = None
        for name in list(reversed(self.made)):
            await self.drop(name)
        if self._conn is not None:
            result = self._conn.close()
            if asyncio.iscoroutine(result):
                await result
            self._conn = None


def temporary_folder() -> Path:
    """Return a fresh temporary folder for SQLite test databases."""
    return Path(tempfile.mkdtemp(prefix="march_test_"))
