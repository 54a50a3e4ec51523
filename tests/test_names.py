"""Derived names equal the names PostgreSQL stores, byte limit and character boundaries included."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.conftest import drop_pg_database, new_pg_database
from tortoise_march_ext.backends.names import clip_identifier, pg_name
from tortoise_march_ext.backends.postgres import PostgresEditor

PAIRS = [
    ("book", "author_id"),
    ("a" * 40, "b" * 40),
    ("книги_и_прочие_издания_библиот", "title"),
    ("книги_и_прочие_издания_библиотеки_города", "название_книги_на_обложке"),
    ("图书馆里的各种各样的书籍", "书架的名称和编号"),
    ("🐢" * 20, "🐇" * 3),
    ("x" * 70, "y"),
    ("t", "ж" * 40),
]

CATALOG = """
SELECT con.contype::text, con.conname::text FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid WHERE c.relname = $1
UNION ALL
SELECT 'S', s.relname::text FROM pg_class s WHERE s.relkind = 'S'
"""


async def _stored_names(url: str, table: str, column: str) -> dict[str, str]:
    editor = PostgresEditor()
    t, c = editor.quote(table), editor.quote(column)
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            f"CREATE TABLE {t} (id SERIAL PRIMARY KEY, {c} INT UNIQUE REFERENCES {t} (id))"
        )
        rows = await conn.fetch(CATALOG, editor.stored_name(table))
        await conn.execute(f"DROP TABLE {t}")
    finally:
        await conn.close()
    return {kind: name for kind, name in rows}


@pytest.fixture(scope="module")
def pg_database() -> object:
    url = new_pg_database()
    yield url
    drop_pg_database(url)


@pytest.mark.parametrize(("table", "column"), PAIRS)
def test_implicit_names_are_the_ones_postgres_stores(
    pg_database: str, table: str, column: str
) -> None:
    stored = asyncio.run(_stored_names(pg_database, table, column))
    assert stored == {
        "p": pg_name(table, None, "pkey"),
        "u": pg_name(table, column, "key"),
        "f": pg_name(table, column, "fkey"),
        "S": pg_name(table, "id", "seq"),
    }
    assert all(len(name.encode()) <= 63 for name in stored.values())


async def _index_name(url: str, name: str) -> str:
    editor = PostgresEditor()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS plain (n INT)")
        await conn.execute(f"CREATE INDEX {editor.quote(name)} ON plain (n)")
        stored = await conn.fetchval(
            "SELECT relname::text FROM pg_class WHERE relkind = 'i' AND relname LIKE 'idx%'"
        )
        await conn.execute(f"DROP INDEX {editor.quote(name)}")
    finally:
        await conn.close()
    return str(stored)


@pytest.mark.parametrize(
    "name", ["idx_short", "idx_" + "图" * 30, "idx_" + "ж" * 31 + "z", "idx_" + "a" * 80]
)
def test_long_names_are_cut_as_postgres_cuts_them(pg_database: str, name: str) -> None:
    stored = asyncio.run(_index_name(pg_database, name))
    assert PostgresEditor().stored_name(name) == stored
    assert clip_identifier(name, 63) == stored
