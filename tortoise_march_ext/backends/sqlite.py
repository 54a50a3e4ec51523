"""SQLite schema editor: in-place ALTER where SQLite allows it, the table rebuild elsewhere.

SQLite cannot alter a column's type, nullability, default or constraints in place. Those changes use
the rebuild procedure SQLite documents: create the new table under a temporary name, copy the rows,
drop the old table, rename the new one, recreate the indexes and the table's triggers, and carry
its AUTOINCREMENT counter over (:class:`SwapTable`). The executor runs it inside the migration's
transaction with foreign keys off, and checks foreign keys before committing.
"""

from __future__ import annotations

import re
import sqlite3
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import anyio

from ..exceptions import MigrationFailed
from ..schema.state import NOT_PROVIDED, SqlDefault
from ..schema.tables import Column, Table
from .base import RECORDER_TABLE, SchemaEditor
from .changes import TableChange, matched

TRIGGERS = (
    "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND lower(tbl_name) = lower(?) "
    "ORDER BY rowid"
)
HAS_SEQUENCE = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'sqlite_sequence'"
SEQUENCE = "SELECT seq FROM sqlite_sequence WHERE name = ?"
VIEWS = "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY rowid"
_UPDATE_OF = re.compile(r"\bUPDATE\s+OF\s+(.+?)\s+ON\s", re.IGNORECASE | re.DOTALL)
_NAME = re.compile(r'"(?:[^"]|"")*"|`(?:[^`]|``)*`|\[[^\]]*\]|[^\s,]+')


@dataclass
class SwapTable:
    """Replace a table by its rebuilt copy, keeping what SQLite drops with the old table.

    DROP TABLE takes the table's triggers and its ``sqlite_sequence`` row with it. This reads
    both first, then drops the old table, renames the copy, recreates each trigger (checking that
    SQLite can still compile it against the new columns) and carries the AUTOINCREMENT counter
    over, so deleted ids are not handed out again. Views that read the table stay; each one that
    compiled before must still compile. A trigger or view that no longer fits refuses the whole
    swap, inside a savepoint, so nothing changes.
    """

    drop: str
    rename: str
    old: str
    new: str
    columns: tuple[str, ...]
    probes: tuple[str, ...]
    autoincrement: bool

    def __str__(self) -> str:
        return (
            f"{self.drop}\n{self.rename}\n"
            f"-- then the triggers of {self.old} are recreated, its AUTOINCREMENT counter kept "
            "and the views checked"
        )

    async def run(self, conn: Any, connection_for: Any = None) -> None:
        """Swap the tables inside a savepoint; undo everything if a trigger or view does not fit."""
        _, triggers = await conn.execute_query(TRIGGERS, [self.old])
        sequence = await self._sequence(conn, self.old)
        views = await self._working_views(conn)
        await conn.execute_query("SAVEPOINT march_swap")
        try:
            await conn.execute_query(self.drop)
            await self._rename(conn)
            for name, sql in triggers:
                await self._recreate(conn, name, sql)
            for view in views:
                await self._check_view(conn, view)
            if self.autoincrement and sequence is not None:
                await self._keep_sequence(conn, sequence)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await conn.execute_query("ROLLBACK TO march_swap")
                await conn.execute_query("RELEASE march_swap")
            raise
        await conn.execute_query("RELEASE march_swap")

    async def _rename(self, conn: Any) -> None:
        """Rename the copy with ``legacy_alter_table`` on, as Django does: SQLite then does not
        re-check every view and trigger, which still name the table just dropped."""
        _, rows = await conn.execute_query("PRAGMA legacy_alter_table")
        await conn.execute_query("PRAGMA legacy_alter_table = ON")
        try:
            await conn.execute_query(self.rename)
        finally:
            setting = "ON" if rows and rows[0][0] else "OFF"
            await conn.execute_query(f"PRAGMA legacy_alter_table = {setting}")

    async def _working_views(self, conn: Any) -> list[str]:
        """Return the views SQLite can compile now (one already broken is not ours to judge)."""
        _, rows = await conn.execute_query(VIEWS)
        working = []
        for (name,) in rows:
            try:
                await conn.execute_query(_view_probe(name))
            except Exception:  # noqa: BLE001 - any failure means "does not compile"
                continue
            working.append(name)
        return working

    async def _check_view(self, conn: Any, name: str) -> None:
        try:
            await conn.execute_query(_view_probe(name))
        except Exception as exc:
            drop = f"DROP VIEW {SqliteEditor().quote(name)}"
            raise MigrationFailed(
                f"view {name} does not fit the rebuilt table {self.new} ({exc}); drop it in a "
                f"RunSQL before this operation ({drop}) and create it again after it if it is "
                "still wanted"
            ) from exc

    async def _recreate(self, conn: Any, name: str, sql: str) -> None:
        missing = [c for c in _update_of(sql) if c.lower() not in {n.lower() for n in self.columns}]
        try:
            if missing:
                raise sqlite3.OperationalError(f"no such column: {missing[0]}")
            await conn.execute_query(sql)
            for probe in self.probes:
                await conn.execute_query(probe)
        except Exception as exc:
            drop = f"DROP TRIGGER {SqliteEditor().quote(name)}"
            raise MigrationFailed(
                f"trigger {name} on {self.old} does not fit the rebuilt table ({exc}); drop it "
                f"in a RunSQL before this operation ({drop}) and create it again after it if it "
                "is still wanted"
            ) from exc

    async def _sequence(self, conn: Any, table: str) -> int | None:
        _, exists = await conn.execute_query(HAS_SEQUENCE)
        if not exists:
            return None
        _, rows = await conn.execute_query(SEQUENCE, [table])
        return int(rows[0][0]) if rows else None

    async def _keep_sequence(self, conn: Any, value: int) -> None:
        current = await self._sequence(conn, self.new)
        if current is None:
            await conn.execute_query(
                "INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", [self.new, value]
            )
        elif current < value:
            await conn.execute_query(
                "UPDATE sqlite_sequence SET seq = ? WHERE name = ?", [value, self.new]
            )


def _view_probe(name: str) -> str:
    return f"EXPLAIN SELECT * FROM {SqliteEditor().quote(name)}"


def _update_of(sql: str) -> list[str]:
    """Return the columns of an ``UPDATE OF`` trigger's column list, unquoted."""
    found = _UPDATE_OF.search(sql)
    if not found:
        return []
    names = _NAME.findall(found.group(1))
    return [_unquote(n) for n in names]


def _unquote(name: str) -> str:
    if name[:1] in ('"', "`"):
        return name[1:-1].replace(name[0] * 2, name[0])
    if name[:1] == "[":
        return name[1:-1]
    return name


# How long a connect waits for a new database file that another process holds locked.
CONNECT_BUSY_SECONDS = 30.0


class SqliteEditor(SchemaEditor):
    """DDL for SQLite, as Tortoise's sqlite backend builds schemas."""

    dialect = "sqlite"
    can_rollback_ddl = True
    types: ClassVar[dict[str, str]] = {
        "IntField": "INT",
        "BigIntField": "BIGINT",
        "SmallIntField": "SMALLINT",
        "CharField": "VARCHAR({max_length})",
        "TextField": "TEXT",
        "BooleanField": "INT",
        "DecimalField": "VARCHAR(40)",
        "FloatField": "REAL",
        "DateField": "DATE",
        "DatetimeField": "TIMESTAMP",
        "TimeField": "TIME",
        "TimeDeltaField": "BIGINT",
        "UUIDField": "CHAR(36)",
        "JSONField": "JSON",
        "BinaryField": "BLOB",
        "CharEnumField": "VARCHAR({max_length})",
        "IntEnumField": "SMALLINT",
        # tortoise.contrib.mysql fields, as generate_schemas() builds them here.
        "GeometryField": "GEOMETRY",
        "MySQLUUIDField": "{uuid_storage}",
    }
    generated_types: ClassVar[dict[str, str]] = {
        kind: "INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL"
        for kind in ("IntField", "BigIntField", "SmallIntField")
    }
    create_table_sql = "CREATE TABLE {table} (\n    {definitions}\n){extra};"
    scripts_keep_transaction = False
    fk_off_sql = "PRAGMA foreign_keys=OFF"
    fk_on_sql = "PRAGMA foreign_keys=ON"
    fk_check_sql = "PRAGMA foreign_key_check"
    relation_kinds: ClassVar[dict[str, str]] = {"table": "table", "view": "view"}

    async def connect(self, client: Any) -> None:
        """Open the connection, waiting while another process holds a new database file locked.

        Tortoise's connect sets ``journal_mode=WAL``, which SQLite refuses as "database is locked"
        while another connection creates the same file (several workers starting at once). A
        failed connect leaves Tortoise a half-made connection without the later pragmas
        (``foreign_keys=ON``), so it is closed before the next try.
        """
        deadline = time.monotonic() + CONNECT_BUSY_SECONDS
        delay = 0.02
        while True:
            try:
                await client.create_connection(with_db=True)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                await client.close()
                await anyio.sleep(delay)
                delay = min(delay * 2, 0.5)

    def split_statements(self, sql: str) -> list[str]:
        """Split ``sql`` into complete statements, as SQLite's own tokenizer ends them.

        Every ``;`` is a candidate end; ``sqlite3.complete_statement`` says whether it ends a
        statement or sits inside a string, a quoted name, a comment or a trigger body.
        """
        statements, start, end = [], 0, sql.find(";")
        while end != -1:
            if sqlite3.complete_statement(sql[start : end + 1]):
                statements.append(sql[start : end + 1].strip())
                start = end + 1
            end = sql.find(";", end + 1)
        statements.append(sql[start:].strip())
        return [s for s in statements if not _only_comments(s)]

    def bool_literal(self, value: bool) -> str:
        """Render booleans as SQLite stores them."""
        return "1" if value else "0"

    def db_value(self, value: Any, kind: str) -> Any:
        """Store decimals as text, like Tortoise's VARCHAR(40) DecimalField."""
        value = super().db_value(value, kind)
        if kind == "DecimalField" and not isinstance(value, str):
            return str(value)
        return value

    def inline_comment(self, description: str | None) -> str:
        """Return Tortoise's inline ``/* comment */``."""
        if not description:
            return ""
        return " /* " + description.replace("*/", "* /") + " */"

    def alter_table(self, change: TableChange) -> list[Any]:
        """Return in-place ALTER statements when SQLite can, else the rebuild procedure."""
        for exclusion in change.new.exclusions:
            self.exclusion_definition(exclusion)
        if self._needs_rebuild(change):
            return self.rebuild(change)
        old, new = change.old, change.new
        out = []
        if old.name != new.name:
            out.append(f"ALTER TABLE {self.quote(old.name)} RENAME TO {self.quote(new.name)};")
        old_indexes = [change.translate_index(i) for i in old.indexes]
        removed, added, _ = matched(old_indexes, list(new.indexes), lambda i: i)
        out += [self.drop_index(new.name, i) for i in removed]
        for o, n in change.pairs():
            if o.name != n.name:
                out.append(
                    f"ALTER TABLE {self.quote(new.name)} RENAME COLUMN {self.quote(o.name)} "
                    f"TO {self.quote(n.name)};"
                )
        for column in change.added():
            out.append(f"ALTER TABLE {self.quote(new.name)} ADD COLUMN {self.column_sql(column)};")
        out += [self.create_index(new.name, i) for i in added]
        return out

    def _needs_rebuild(self, change: TableChange) -> bool:
        if change.removed():
            return True
        for o, n in change.pairs():
            if _comparable(change, o) != _comparable(change, n.renamed(o.name)):
                return True
        uniques = {(u.name, change.translate(u.columns)) for u in change.old.uniques}
        if uniques != {(u.name, u.columns) for u in change.new.uniques}:
            return True
        if set(change.old.checks) != set(change.new.checks):
            return True
        return any(not self._can_add(c, change.fills) for c in change.added())

    def _can_add(self, column: Column, fills: dict[str, Any]) -> bool:
        if column.primary_key or column.unique or column.name in fills:
            return False
        if isinstance(column.db_default, SqlDefault):
            return False
        if column.reference and column.db_default not in (NOT_PROVIDED, None):
            return False
        return column.null or column.db_default is not NOT_PROVIDED

    def rebuild(self, change: TableChange) -> list[Any]:
        """Return the statements of SQLite's table rebuild procedure."""
        old, new = change.old, change.new
        temp = f"new__{new.name}"
        create = self.create_table(new, name=temp)[0]
        old_names = set(old.column_names)
        targets, sources = [], []
        for column in new.columns:
            source = change.old_name_of(column.name)
            if source in old_names:
                expr = self.quote(source)
                if column.name in change.fills:
                    fill = self.fill_sql(change.fills[column.name], column.kind)
                    expr = f"COALESCE({expr}, {fill})"
            elif column.name in change.fills:
                expr = self.fill_sql(change.fills[column.name], column.kind)
            else:
                continue
            targets.append(self.quote(column.name))
            sources.append(expr)
        copy = (
            f"INSERT INTO {self.quote(temp)} ({', '.join(targets)}) "
            f"SELECT {', '.join(sources)} FROM {self.quote(old.name)};"
        )
        swap = SwapTable(
            drop=f"DROP TABLE {self.quote(old.name)};",
            rename=f"ALTER TABLE {self.quote(temp)} RENAME TO {self.quote(new.name)};",
            old=old.name,
            new=new.name,
            columns=new.column_names,
            probes=self.trigger_probes(new),
            autoincrement=any(c.primary_key and c.generated for c in new.columns),
        )
        return [create, copy, swap, *(self.create_index(new.name, i) for i in new.indexes)]

    def trigger_probes(self, table: Table) -> tuple[str, ...]:
        """Return statements whose compilation (EXPLAIN: nothing runs) compiles every trigger of
        ``table``, so a trigger that names a missing column fails now, not at the next write."""
        name = self.quote(table.name)
        sets = ", ".join(f"{self.quote(c)} = {self.quote(c)}" for c in table.column_names)
        return (
            f"EXPLAIN INSERT INTO {name} DEFAULT VALUES",
            f"EXPLAIN UPDATE {name} SET {sets}",
            f"EXPLAIN DELETE FROM {name}",
        )

    def recorder_create(self) -> str:
        """Return CREATE TABLE IF NOT EXISTS for the recorder."""
        return (
            f"CREATE TABLE IF NOT EXISTS {self.quote(RECORDER_TABLE)} ("
            f'"id" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL, '
            f'"app" VARCHAR(255) NOT NULL, "name" VARCHAR(255) NOT NULL, '
            f'"checksum" VARCHAR(64) NOT NULL, '
            f'"applied_at" TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, '
            f'UNIQUE ("app", "name"));'
        )

    def existing_tables(self, names: list[str]) -> tuple[str, list[Any]]:
        """Return a query for those of ``names`` that are tables or views."""
        marks = ", ".join(self.placeholders(len(names)))
        return (
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            f"AND name COLLATE NOCASE IN ({marks}) ORDER BY name",
            list(names),
        )

    def recorder_describe(self) -> tuple[str, list[Any]]:
        """Return the kind and columns of the table or view named like the recorder."""
        return (
            "SELECT m.type AS kind, p.name AS col FROM sqlite_master m "
            "LEFT JOIN pragma_table_info(m.name) p "
            "WHERE m.name = ? COLLATE NOCASE AND m.type IN ('table', 'view') ORDER BY p.cid",
            [RECORDER_TABLE],
        )


def _comparable(change: TableChange, column: Column) -> Column:
    """Return the column without what SQLite keeps outside the table definition."""
    reference = column.reference
    if reference and reference.table == change.old.name:
        reference = reference.__class__(change.new.name, reference.column, reference.on_delete)
    return Column(**{**column.__dict__, "description": None, "reference": reference})


def _only_comments(sql: str) -> bool:
    """Return whether ``sql`` holds nothing but whitespace, comments and semicolons."""
    rest = sql.strip()
    while rest:
        if rest.startswith("--"):
            _, _, rest = rest.partition("\n")
        elif rest.startswith("/*"):
            _, _, rest = rest.partition("*/")
        elif rest.startswith(";"):
            rest = rest[1:]
        else:
            return False
        rest = rest.strip()
    return True
