"""SQLite schema editor: in-place ALTER where SQLite allows it, the table rebuild elsewhere.

SQLite cannot alter a column's type, nullability, default or constraints in place. Those changes use
the rebuild procedure SQLite documents: create the new table under a temporary name, copy the rows,
drop the old table, rename the new one, recreate the indexes. The executor runs it inside the
migration's transaction with foreign keys off, and checks foreign keys before committing.
"""

from __future__ import annotations

import sqlite3
from typing import Any, ClassVar

from ..schema.state import NOT_PROVIDED, SqlDefault
from ..schema.tables import Column
from .base import RECORDER_TABLE, SchemaEditor, TableChange, matched


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

    def split_statements(self, sql: str) -> list[str]:
        """Split ``sql`` into complete statements, as SQLite's own tokenizer ends them."""
        statements, current = [], ""
        for line in sql.splitlines(keepends=True):
            current += line
            if sqlite3.complete_statement(current):
                statements.append(current.strip())
                current = ""
        if current.strip():
            statements.append(current.strip())
        return [s for s in statements if s.rstrip(";").strip()]

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

    def alter_table(self, change: TableChange) -> list[str]:
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

    def rebuild(self, change: TableChange) -> list[str]:
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
                    fill = self.literal(change.fills[column.name], column.kind)
                    expr = f"COALESCE({expr}, {fill})"
            elif column.name in change.fills:
                expr = self.literal(change.fills[column.name], column.kind)
            else:
                continue
            targets.append(self.quote(column.name))
            sources.append(expr)
        copy = (
            f"INSERT INTO {self.quote(temp)} ({', '.join(targets)}) "
            f"SELECT {', '.join(sources)} FROM {self.quote(old.name)};"
        )
        return [
            create,
            copy,
            f"DROP TABLE {self.quote(old.name)};",
            f"ALTER TABLE {self.quote(temp)} RENAME TO {self.quote(new.name)};",
            *(self.create_index(new.name, i) for i in new.indexes),
        ]

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

    def recorder_exists(self) -> tuple[str, list[Any]]:
        """Return a query for the recorder table."""
        return ("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [RECORDER_TABLE])


def _comparable(change: TableChange, column: Column) -> Column:
    """Return the column without what SQLite keeps outside the table definition."""
    reference = column.reference
    if reference and reference.table == change.old.name:
        reference = reference.__class__(change.new.name, reference.column, reference.on_delete)
    return Column(**{**column.__dict__, "description": None, "reference": reference})
