"""Read a SQLite schema from its PRAGMAs and the SQL kept in ``sqlite_master``.

Columns come from ``PRAGMA table_xinfo`` so that generated columns are not missed; what PRAGMAs
do not tell (constraint names, checks, AUTOINCREMENT) is read by :mod:`.sqltext`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

from .sqltext import _index_sql_parts, _TableSql
from .values import DEFAULT_EXCLUDE, Schema, _empty_table, _sorted

Fetch = Callable[[str], Awaitable[Sequence[Any]]]
SqlOf = dict[tuple[str, str], "str | None"]  # (type, name) -> the SQL in sqlite_master


async def _sqlite_tables(fetch: Fetch) -> list[str]:
    if sqlite3.sqlite_version_info >= (3, 37, 0):
        rows = await fetch("PRAGMA main.table_list")
        # schema, name, type, ncol, wr, strict
        return [row[1] for row in rows if row[0] == "main" and row[2] == "table"]
    rows = await fetch("SELECT name FROM main.sqlite_master WHERE type = 'table'")
    return [row[0] for row in rows]


async def _sqlite_columns(fetch: Fetch, quoted: str) -> list[tuple[Any, ...]]:
    """Return (name, type, notnull, dflt_value, pk) of the table's columns, generated included.

    ``PRAGMA table_xinfo`` is ``table_info`` plus generated columns (and a ``hidden`` flag);
    it exists since SQLite 3.26.
    """
    if sqlite3.sqlite_version_info >= (3, 26, 0):
        rows = await fetch(f"PRAGMA main.table_xinfo({quoted})")
        # cid, name, type, notnull, dflt_value, pk, hidden (1: hidden column of a virtual table)
        return [tuple(row[1:6]) for row in rows if row[6] != 1]
    rows = await fetch(f"PRAGMA main.table_info({quoted})")
    return [tuple(row[1:6]) for row in rows]


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def introspect_sqlite(fetch: Fetch, *, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> Schema:
    """Return the normalised schema of the ``main`` database of a SQLite connection.

    ``fetch(sql)`` returns the rows of a query, readable by position (a Tortoise client's
    ``execute_query`` rows, or :func:`sqlite3_fetch` over a ``sqlite3`` connection).
    ``sqlite_*`` tables and the tables named in ``exclude`` are left out.
    """
    excluded = set(exclude)
    sql_of: SqlOf = {
        (row[0], row[1]): row[2]
        for row in (await fetch("SELECT type, name, sql FROM main.sqlite_master"))
    }
    schema: Schema = {}
    for table in await _sqlite_tables(fetch):
        if not (table.lower().startswith("sqlite_") or table in excluded):
            schema[table] = await _read_table(fetch, table, sql_of)
    return schema


async def _read_table(fetch: Fetch, table: str, sql_of: SqlOf) -> dict[str, Any]:
    info = _empty_table()
    table_sql = _TableSql(sql_of.get(("table", table)))
    quoted = _quote(table)
    await _read_columns(fetch, quoted, table_sql, info)
    info["foreign_keys"] = await _read_foreign_keys(fetch, quoted)
    await _read_indexes(fetch, quoted, table_sql, sql_of, info)
    info["checks"] = list(table_sql.checks)
    for key in ("foreign_keys", "uniques", "indexes", "checks"):
        info[key] = _sorted(info[key])
    return info


async def _read_columns(
    fetch: Fetch, quoted: str, table_sql: _TableSql, info: dict[str, Any]
) -> None:
    primary: list[tuple[int, str]] = []
    for name, type_, notnull, default, pk in await _sqlite_columns(fetch, quoted):
        if name in table_sql.generated:
            default = table_sql.generated[name]
        elif name in table_sql.autoincrement:
            default = "AUTOINCREMENT" if default is None else f"{default} AUTOINCREMENT"
        info["columns"][name] = {
            "type": (type_ or "").upper(),
            "nullable": not notnull,
            "default": default,
            "pk": bool(pk),
        }
        if pk:
            primary.append((pk, name))
    info["primary_key"] = tuple(name for _, name in sorted(primary))


async def _read_foreign_keys(fetch: Fetch, quoted: str) -> list[Any]:
    # id, seq, table, from, to, on_update, on_delete, match
    foreign: dict[int, list[tuple[int, str, str, str | None, str]]] = {}
    for fk_id, seq, ref_table, from_col, to_col, _upd, on_delete, _match in await fetch(
        f"PRAGMA main.foreign_key_list({quoted})"
    ):
        foreign.setdefault(fk_id, []).append((seq, ref_table, from_col, to_col, on_delete))
    out = []
    for parts in foreign.values():
        parts.sort()
        ref_table = parts[0][1]
        ref_columns: tuple[str | None, ...] = tuple(p[3] for p in parts)
        if all(c is None for c in ref_columns):  # REFERENCES t without columns: its pk
            ref_pk = sorted(
                (row[5], row[1])
                for row in await fetch(f"PRAGMA main.table_info({_quote(ref_table)})")
                if row[5]
            )
            ref_columns = tuple(name for _, name in ref_pk) or ref_columns
        out.append((tuple(p[2] for p in parts), ref_table, ref_columns, parts[0][4].upper()))
    return out


async def _read_indexes(
    fetch: Fetch, quoted: str, table_sql: _TableSql, sql_of: SqlOf, info: dict[str, Any]
) -> None:
    # seq, name, unique, origin, partial
    for _seq, index_name, unique, origin, partial in await fetch(
        f"PRAGMA main.index_list({quoted})"
    ):
        if origin == "pk":
            continue
        # seqno, cid, name, desc, coll, key
        xinfo = await fetch(f"PRAGMA main.index_xinfo({_quote(index_name)})")
        keys = [row for row in xinfo if row[5]]
        if origin == "u":
            columns = tuple(row[2] for row in keys)
            info["uniques"].append((table_sql.unique_name(columns), columns))
            continue
        if index_name.startswith("sqlite_autoindex_"):
            continue
        sql_entries, predicate = _index_sql_parts(sql_of.get(("index", index_name)))
        columns = tuple(
            _index_entry(row, position, sql_entries) for position, row in enumerate(keys)
        )
        if not partial:
            predicate = None
        info["indexes"].append((index_name, columns, bool(unique), "btree", predicate))
        if unique:
            if predicate is None:
                info["uniques"].append((index_name, columns))
            else:
                info["uniques"].append((index_name, columns, predicate))


def _index_entry(row: Sequence[Any], position: int, sql_entries: list[str]) -> str:
    """Return one key of an index as its column name or expression, collation and order."""
    _seqno, cid, name, desc, coll, _key = tuple(row)[:6]
    if cid == -2:
        entry = sql_entries[position] if position < len(sql_entries) else "<expr>"
    elif cid == -1:
        entry = "rowid"
    else:
        entry = str(name)
    if coll and coll.upper() != "BINARY":
        entry += f" COLLATE {coll}"
    if desc:
        entry += " DESC"
    return entry


def sqlite3_fetch(conn: sqlite3.Connection) -> Fetch:
    """Return a ``fetch`` over a plain ``sqlite3`` connection (positional rows)."""

    async def fetch(sql: str) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in conn.execute(sql).fetchall()]

    return fetch
