"""The tests' entry points to the product's schema introspection.

``introspect_postgres`` takes an asyncpg connection, ``introspect_sqlite`` a file name or an
open ``sqlite3`` connection; both return the normalised value described in
``tortoise_march_ext.introspect.values``.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from tortoise_march_ext import introspect as product
from tortoise_march_ext.introspect import DEFAULT_EXCLUDE, Schema, diff_schemas

if TYPE_CHECKING:
    import asyncpg

__all__ = ["DEFAULT_EXCLUDE", "diff_schemas", "introspect_postgres", "introspect_sqlite"]


async def introspect_postgres(
    conn: asyncpg.Connection, *, exclude: Iterable[str] = DEFAULT_EXCLUDE
) -> Schema:
    """Return the normalised schema of the tables in the connection's current schema."""
    return await product.introspect_postgres(conn.fetch, exclude=exclude)


def introspect_sqlite(
    path_or_conn: str | Path | sqlite3.Connection,
    *,
    exclude: Iterable[str] = DEFAULT_EXCLUDE,
) -> Schema:
    """Return the normalised schema of a SQLite database (a file name or an open connection).

    A file is opened read-only (a missing file is an error, never created); a connection is
    used as is and left open.
    """
    if isinstance(path_or_conn, sqlite3.Connection):
        return _run(path_or_conn, exclude)
    if not isinstance(path_or_conn, (str, Path)):
        raise TypeError(
            "introspect_sqlite() wants a file name or a sqlite3.Connection, "
            f"not {type(path_or_conn).__name__}"
        )
    uri = Path(path_or_conn).resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True)
    try:
        return _run(conn, exclude)
    finally:
        conn.close()


def _run(conn: sqlite3.Connection, exclude: Iterable[str]) -> Schema:
    fetch = product.sqlite3_fetch(conn)
    return asyncio.run(product.introspect_sqlite(fetch, exclude=exclude))
