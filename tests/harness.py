"""Run model versions through makemigrations + migrate in-process and compare the schema with
what ``Tortoise.generate_schemas()`` builds for the same models on an empty database.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from tortoise import Tortoise, connections
from tortoise.exceptions import ConfigurationError

from tests.conftest import (
    _mysql_parts,
    drop_mysql_database,
    drop_pg_database,
    new_mysql_database,
    new_pg_database,
)
from tortoise_march_ext import commands
from tortoise_march_ext.config import MarchConfig
from tortoise_march_ext.introspect import (
    Schema,
    diff_schemas,
    introspect_mysql,
    introspect_postgres,
    introspect_sqlite,
    sqlite3_fetch,
)
from tortoise_march_ext.project import drift_check_suppressed

_counter = itertools.count()


@dataclass
class Backend:
    """A kind of database the harness can create, introspect and drop."""

    name: str
    tmp: Path
    made: list[str] = field(default_factory=list)

    def new_url(self) -> str:
        """Return the URL of a new empty database."""
        if self.name == "postgres":
            url = new_pg_database()
        elif self.name == "mysql":
            url = new_mysql_database()
        else:
            url = f"sqlite://{self.tmp / f'db{next(_counter)}.sqlite3'}"
        self.made.append(url)
        return url

    def introspect(self, url: str) -> Schema:
        """Return the normalized schema of the database at ``url`` (the product's reader)."""
        if self.name == "postgres":
            return asyncio.run(_pg_introspect(url))
        if self.name == "mysql":
            return asyncio.run(_mysql_introspect(url))
        uri = Path(url.removeprefix("sqlite://")).resolve().as_uri() + "?mode=ro"
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            return asyncio.run(introspect_sqlite(sqlite3_fetch(conn)))

    def execute(self, url: str, sql: str) -> list[tuple[Any, ...]]:
        """Run ``sql`` and return its rows."""
        if self.name == "postgres":
            return asyncio.run(_pg_fetch(url, sql))
        if self.name == "mysql":
            return asyncio.run(_mysql_fetch(url, sql))
        with sqlite3.connect(url.removeprefix("sqlite://")) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

    def cleanup(self) -> None:
        """Drop every database made."""
        if self.name == "postgres":
            for url in self.made:
                drop_pg_database(url)
        elif self.name == "mysql":
            for url in self.made:
                drop_mysql_database(url)


async def _pg_introspect(url: str) -> Schema:
    conn = await asyncpg.connect(url)
    try:
        return await introspect_postgres(conn.fetch)
    finally:
        await conn.close()


async def _pg_fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        if sql.lstrip().upper().startswith("SELECT"):
            return [tuple(r) for r in await conn.fetch(sql)]
        await conn.execute(sql)
        return []
    finally:
        await conn.close()


async def _mysql_connect(url: str) -> Any:
    import asyncmy

    return await asyncmy.connect(**_mysql_parts(), db=url.rsplit("/", 1)[1], autocommit=True)


async def _mysql_introspect(url: str) -> Schema:
    import asyncmy.cursors

    conn = await _mysql_connect(url)
    try:

        async def fetch(sql: str, params: Any) -> list[Any]:
            async with conn.cursor(asyncmy.cursors.DictCursor) as cursor:
                await cursor.execute(sql, tuple(params) or None)
                return list(await cursor.fetchall())

        return await introspect_mysql(fetch)
    finally:
        conn.close()


async def _mysql_fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = await _mysql_connect(url)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(sql)
            return [tuple(r) for r in await cursor.fetchall() or ()]
    finally:
        conn.close()


class Project:
    """A temporary project whose models change version by version."""

    def __init__(self, tmp: Path, backend: Backend) -> None:
        self.tmp = tmp
        self.backend = backend
        self.url = backend.new_url()
        self.migrations = tmp / "migrations"
        self.version = 0
        self.apps: dict[str, list[str]] = {}
        if str(tmp) not in sys.path:
            sys.path.insert(0, str(tmp))

    def write_models(self, sources: dict[str, str]) -> None:
        """Write a new version of each app's models as a fresh module (no import caching)."""
        self.version += 1
        self.apps = {}
        for app, source in sources.items():
            module = f"models_{self.tmp.name}_{app}_v{self.version}".replace("-", "_")
            (self.tmp / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
            self.apps[app] = [module]

    def tortoise_config(self, url: str | None = None) -> dict[str, Any]:
        """Return the Tortoise config of the current version."""
        return {
            "connections": {"default": url or self.url},
            "apps": {
                app: {"models": mods, "default_connection": "default"}
                for app, mods in self.apps.items()
            },
        }

    @property
    def config(self) -> MarchConfig:
        """Return the MarchConfig of the current version."""
        return MarchConfig(
            location=self.migrations, root=self.tmp, tortoise_config=self.tortoise_config()
        )

    def makemigrations(self, **kwargs: Any) -> commands.MakeMigrationsResult:
        """Run makemigrations in-process."""
        return asyncio.run(commands.makemigrations(self.config, **kwargs))

    def migrate(
        self, app: str | None = None, target: str | None = None, **kwargs: Any
    ) -> commands.MigrateResult:
        """Run migrate in-process."""
        return asyncio.run(commands.migrate(self.config, app, target, **kwargs))

    def check_schema(self) -> list[str]:
        """Return what ``check --schema`` finds on the migrated database (in-process)."""
        return asyncio.run(commands.check_schema(self.config)).differences

    def reference_schema(self) -> dict[str, Any]:
        """Return the schema generate_schemas builds for the current models on a new database."""
        url = self.backend.new_url()
        asyncio.run(_generate(self.tortoise_config(url)))
        return self.backend.introspect(url)

    def schema(self) -> dict[str, Any]:
        """Return the schema of the migrated database."""
        return self.backend.introspect(self.url)

    def ruff(self) -> str:
        """Return ruff's complaints about the migration files ('' when clean)."""
        out = []
        for args in (
            ["check", "--isolated", "--quiet"],
            ["format", "--isolated", "--check", "--quiet"],
        ):
            proc = subprocess.run(
                [sys.executable, "-m", "ruff", *args, str(self.migrations)],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode:
                out.append(proc.stdout + proc.stderr)
        return "\n".join(out)


async def _generate(config: dict[str, Any]) -> None:
    with drift_check_suppressed():
        await Tortoise.init(config=config)
    try:
        try:
            await Tortoise.generate_schemas(safe=False)
        except ConfigurationError as exc:
            if "cyclic fk" not in str(exc):
                raise
            for client in connections.all():
                generator = client.schema_generator(client)
                await generator.generate_from_string(cyclic_schema_sql(generator))
    finally:
        await Tortoise.close_connections()
        await Tortoise._reset_apps()


def cyclic_schema_sql(generator: Any) -> str:
    """Return the statements ``generate_schemas()`` would run if it accepted foreign key cycles.

    Tortoise refuses to order tables whose foreign keys form a cycle. This is its own table SQL in
    its own order; where a cycle stops that order, the next table is created as Tortoise writes it
    on SQLite (which accepts a reference to a table created later), and on other backends without
    its REFERENCES clauses, which ALTER TABLE adds once every table exists (PostgreSQL names them
    ``table_column_fkey`` as it does the inline form).
    """
    tables = [generator._get_table_sql(m, safe=False) for m in generator._get_models_to_create()]
    created: set[str] = set()
    ordered: list[str] = []
    m2m: list[str] = []
    deferred: list[str] = []
    while tables:
        ready = [t for t in tables if t["references"] <= created | {t["table"]}]
        table = ready[0] if ready else tables[0]
        sql = table["table_creation_string"]
        if not ready and generator.DIALECT != "sqlite":
            sql, foreign_keys = _without_references(generator, table)
            deferred += foreign_keys
        tables.remove(table)
        created.add(table["table"])
        ordered.append(sql)
        m2m += table["m2m_tables"]
    return "\n".join([*ordered, *deferred, *m2m])


def _without_references(generator: Any, table: dict[str, Any]) -> tuple[str, list[str]]:
    """Return the table's CREATE without its foreign keys, and the ALTER TABLEs that add them."""
    added: list[str] = []
    quoted = generator.quote(table["table"])

    def record(
        constraint_name: str, db_column: str, table: str, field: str, on_delete: str, comment: str
    ) -> str:
        added.append(
            f"ALTER TABLE {quoted} ADD FOREIGN KEY ({generator.quote(db_column)}) "
            f"REFERENCES {table} ({generator.quote(field)}) ON DELETE {on_delete};"
        )
        return comment

    generator._create_fk_string = record
    try:
        sql = generator._get_table_sql(table["model"], safe=False)["table_creation_string"]
    finally:
        del generator._create_fk_string
    return sql, added


def assert_same(migrated: dict[str, Any], reference: dict[str, Any], context: str) -> None:
    """Fail with the whole difference when the schemas differ."""
    problems = diff_schemas(migrated, reference)
    assert not problems, f"{context}: migrated schema != generate_schemas():\n" + "\n".join(
        problems
    )
