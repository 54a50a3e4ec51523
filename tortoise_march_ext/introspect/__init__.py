"""Read the live schema of a database: one reader per dialect, one comparable value.

:func:`introspect` takes a Tortoise client and returns a :data:`Schema` (described in
:mod:`.values`); two databases built by the same DDL give equal values, and
:func:`diff_schemas` says how two values differ. ``check --schema`` and the test suite use it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .mysql import introspect_mysql
from .postgres import introspect_postgres
from .sqlite import introspect_sqlite, sqlite3_fetch
from .values import DEFAULT_EXCLUDE, Schema, diff_schemas

__all__ = [
    "DEFAULT_EXCLUDE",
    "Schema",
    "diff_schemas",
    "extensions",
    "introspect",
    "introspect_mysql",
    "introspect_postgres",
    "introspect_sqlite",
    "sqlite3_fetch",
]


async def introspect(client: Any, *, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> Schema:
    """Return the schema of the database behind a Tortoise client (or transaction client)."""
    dialect = client.capabilities.dialect
    if dialect == "postgres":

        async def by_name(sql: str) -> list[Any]:
            return list(await client.execute_query_dict(sql))

        return await introspect_postgres(by_name, exclude=exclude)
    if dialect == "sqlite":

        async def by_position(sql: str) -> list[Any]:
            return list((await client.execute_query(sql))[1])

        return await introspect_sqlite(by_position, exclude=exclude)
    if dialect == "mysql":

        async def with_params(sql: str, params: Sequence[Any]) -> list[Any]:
            return list(await client.execute_query_dict(sql, list(params) or None))

        return await introspect_mysql(with_params, exclude=exclude)
    from ..exceptions import DatabaseError

    raise DatabaseError(f"reading the schema of a {dialect!r} database is not supported yet")


async def extensions(client: Any) -> set[str]:
    """Return the extensions installed in the database (PostgreSQL; none elsewhere: MySQL and
    SQLite have no extensions to install)."""
    if client.capabilities.dialect != "postgres":
        return set()
    rows = await client.execute_query_dict("SELECT extname FROM pg_catalog.pg_extension")
    return {str(row["extname"]) for row in rows}
