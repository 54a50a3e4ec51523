"""What a set of tables reads like once built: the editor's DDL run where it changes nothing.

``check --schema`` compares the live schema with the tables the applied migrations built. Rather
than predicting how each dialect spells a type, a default or an expression, the tables the
editor would create are built for real and read back with the same reader as the live ones:

- SQLite: in a private in-memory database;
- PostgreSQL: in a scratch schema inside a transaction that is always rolled back (types and
  extensions of the live schema stay visible through the search path). Foreign keys are added
  once every table exists, so references in a cycle build too.
- MySQL/MariaDB (no transactional DDL): in a scratch database with the live database's default
  character set and collation, on one connection, dropped in ``finally`` (which needs the CREATE
  privilege on it). Foreign key checks are off for that session while the tables are created,
  so tables are created as the editor writes them (keys inline) in any order.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tortoise.transactions import in_transaction

from ..backends import SchemaEditor
from ..exceptions import DatabaseError, MarchError
from ..schema.tables import Table
from .mysql import introspect_mysql
from .postgres import introspect_postgres
from .sqlite import introspect_sqlite, sqlite3_fetch
from .values import Schema


class _RolledBack(Exception):
    """Raised to leave the scratch transaction: nothing it built is kept."""


async def built_schema(
    client: Any,
    connection: str,
    editor: SchemaEditor,
    tables: list[Table],
    extensions: Sequence[str] = (),
) -> Schema:
    """Return the schema ``tables`` have once the editor creates them on ``client``'s dialect.

    ``extensions`` the tables need but the database lacks are created in the scratch schema
    (and rolled back with it). Raise DatabaseError naming the statement that failed.
    """
    try:
        if client.capabilities.dialect == "sqlite":
            return await _sqlite_built(editor, tables)
        if client.capabilities.dialect == "mysql":
            return await _mysql_built(connection, editor, tables)
        return await _postgres_built(connection, editor, tables, list(extensions))
    except MarchError:
        raise
    except Exception as exc:
        raise DatabaseError(
            "check --schema could not build the tables of the applied migrations to compare "
            f"them: {type(exc).__name__}: {' '.join(str(exc).split())}"
        ) from exc


async def _sqlite_built(editor: SchemaEditor, tables: list[Table]) -> Schema:
    conn = sqlite3.connect(":memory:")
    try:
        for table in tables:
            for sql in editor.create_table(table):
                for statement in editor.split_statements(sql):
                    conn.execute(statement)
        return await introspect_sqlite(sqlite3_fetch(conn), exclude=())
    finally:
        conn.close()


async def _postgres_built(
    connection: str, editor: SchemaEditor, tables: list[Table], extensions: list[str]
) -> Schema:
    schema = f"march_check_{uuid.uuid4().hex[:12]}"
    result: Schema = {}
    try:
        async with in_transaction(connection) as conn:
            path = await conn.execute_query_dict("SELECT current_setting('search_path') AS p")
            await conn.execute_query(f"CREATE SCHEMA {editor.quote(schema)}")
            # The scratch schema first (where CREATE goes), then the live search path.
            await conn.execute_query(
                f"SELECT set_config('search_path', {editor.placeholders(1)[0]}, true)",
                [f"{editor.quote(schema)}, {path[0]['p']}"],
            )
            statements = [s for name in extensions for s in editor.create_extension(name)]
            for sql in statements + _postgres_statements(editor, tables):
                await conn.execute_query(sql)

            async def fetch(sql: str) -> list[Any]:
                return list(await conn.execute_query_dict(sql))

            result = await introspect_postgres(fetch, exclude=())
            raise _RolledBack
    except _RolledBack:
        pass
    return result


def _postgres_statements(editor: SchemaEditor, tables: list[Table]) -> list[str]:
    names = {t.name for t in tables}
    creates: list[str] = []
    foreign_keys: list[str] = []
    for table in tables:
        columns = tuple(replace(c, reference=None) for c in table.columns)
        creates += editor.create_table(replace(table, columns=columns))
        for column in table.columns:
            if column.reference is not None and column.reference.table in names:
                foreign_keys += editor.add_foreign_key_not_valid(table.name, column)
    return creates + foreign_keys


async def _mysql_built(connection: str, editor: SchemaEditor, tables: list[Table]) -> Schema:
    scratch = f"march_check_{uuid.uuid4().hex[:12]}"
    async with in_transaction(connection) as conn:

        async def fetch(sql: str, params: Sequence[Any]) -> list[Any]:
            return list(await conn.execute_query_dict(sql, list(params) or None))

        (live,) = await fetch(
            "SELECT DATABASE() AS name, @@SESSION.foreign_key_checks AS fk_checks,"
            " DEFAULT_CHARACTER_SET_NAME AS charset, DEFAULT_COLLATION_NAME AS collation"
            " FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = DATABASE()",
            (),
        )
        try:
            await conn.execute_query(
                f"CREATE DATABASE {editor.quote(scratch)}"
                f" CHARACTER SET {editor.quote(live['charset'])}"
                f" COLLATE {editor.quote(live['collation'])}"
            )
        except Exception as exc:
            raise DatabaseError(
                "check --schema builds the tables of the applied migrations in a scratch "
                f"database on MySQL/MariaDB and could not create {scratch!r} "
                f"({type(exc).__name__}: {' '.join(str(exc).split())}); let the user create and "
                "drop such databases, e.g. GRANT ALL ON `march\\_check\\_%`.* TO 'user'@'host'"
            ) from exc
        try:
            await conn.execute_query(f"USE {editor.quote(scratch)}")
            await conn.execute_query("SET SESSION foreign_key_checks = 0")
            for table in tables:
                for sql in editor.create_table(table):
                    for statement in editor.split_statements(sql):
                        await conn.execute_query(statement)
            return await introspect_mysql(fetch, exclude=())
        finally:
            await conn.execute_query(
                f"SET SESSION foreign_key_checks = {editor.placeholders(1)[0]}",
                [int(live["fk_checks"])],
            )
            await conn.execute_query(f"USE {editor.quote(live['name'])}")
            await conn.execute_query(f"DROP DATABASE IF EXISTS {editor.quote(scratch)}")
