"""The base schema editor: statement templates, identifier quoting and literal rendering.

All SQL lives in ``backends``. An editor turns :mod:`tortoise_march_ext.schema.tables` values into
lists of statements, one statement per string, so the executor can run them one at a time and
``sqlmigrate`` can print them. Dialects differ by data (type maps, templates, capability flags).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from ..exceptions import StateError
from ..schema.state import NOT_PROVIDED, SqlDefault
from ..schema.tables import Column, Table, TableCheck, TableExclusion, TableIndex, TableUnique
from .changes import NullCheck, TableChange
from .names import clip_identifier

RECORDER_TABLE = "tortoise_march_migrations"
RECORDER_COLUMNS = ("id", "app", "name", "checksum", "applied_at")


class SchemaEditor:
    """Render DDL for one dialect. Subclasses fill the class-level data and a few hooks."""

    dialect: ClassVar[str] = "sql"
    can_rollback_ddl: ClassVar[bool] = True
    # Whether DDL runs inside a transaction that can roll it back (PostgreSQL, SQLite). Where it
    # cannot (MySQL), the executor marks each migration as started in a sidecar table
    # (backends/progress.py) before its first statement and clears the mark after its last.
    transactional_ddl: ClassVar[bool] = True
    supports_comments: ClassVar[bool] = False
    types: ClassVar[dict[str, str]] = {}
    # Field kinds this dialect has no type for, and the database they need (for the message).
    foreign_kinds: ClassVar[dict[str, str]] = {
        "ArrayField": "PostgreSQL",
        "TSVectorField": "PostgreSQL",
    }
    generated_types: ClassVar[dict[str, str]] = {}
    quote_char: ClassVar[str] = '"'
    # Bytes of an identifier the database keeps (PostgreSQL: 63); None where names are not cut.
    identifier_max_bytes: ClassVar[int | None] = None
    # Tortoise's SQLite client runs scripts with executescript(), which commits the open
    # transaction; such backends get one statement at a time through execute_query instead.
    scripts_keep_transaction: ClassVar[bool] = True
    fk_off_sql: ClassVar[str | None] = None
    fk_on_sql: ClassVar[str | None] = None
    fk_check_sql: ClassVar[str | None] = None
    # Constraints added NOT VALID and validated later (PostgreSQL); elsewhere they are plain.
    supports_not_valid: ClassVar[bool] = False
    # CREATE/DROP INDEX CONCURRENTLY outside a transaction (PostgreSQL).
    supports_concurrently: ClassVar[bool] = False
    # INCLUDE columns of a covering index (PostgreSQL); elsewhere the index is built without them.
    supports_include: ClassVar[bool] = False
    # What the catalog calls each kind of relation (see :meth:`recorder_describe`), as words.
    relation_kinds: ClassVar[dict[str, str]] = {}

    create_table_sql = "CREATE TABLE {table} (\n    {definitions}\n){extra};"
    drop_table_sql = "DROP TABLE {table};"
    create_index_sql = (
        "CREATE {unique}INDEX {concurrently}{name} ON {table} {using}({columns}){include}{where};"
    )
    drop_index_sql = "DROP INDEX {name};"
    unique_sql = "CONSTRAINT {name} UNIQUE ({columns})"
    check_sql = "CONSTRAINT {name} CHECK ({check})"
    references_sql = " REFERENCES {table} ({column}) ON DELETE {on_delete}"

    def configure(self, config: Any) -> None:
        """Take the settings of the project's config that change this backend's SQL (none
        here; MySQL's ``safe_defaults`` asks for online ALTER TABLE algorithms)."""

    # -- quoting and literals ------------------------------------------------------------------
    def quote(self, name: str) -> str:
        """Quote an identifier as the database stores it; the only way identifiers enter SQL."""
        q = self.quote_char
        name = self.stored_name(name)
        return f"{q}{name.replace(q, q * 2)}{q}"

    def stored_name(self, name: str) -> str:
        """Return ``name`` as the database keeps it (cut to its identifier byte limit)."""
        if self.identifier_max_bytes is None:
            return name
        return clip_identifier(name, self.identifier_max_bytes)

    def quote_string(self, text: str) -> str:
        """Return ``text`` as an SQL string literal."""
        return "'" + text.replace("'", "''") + "'"

    def literal(self, value: Any, kind: str = "") -> str:
        """Render a Python value as an SQL literal for a column of ``kind``; the only such path."""
        value = self.db_value(value, kind)
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return self.bool_literal(value)
        if isinstance(value, (int, float, decimal.Decimal)):
            return repr(value) if isinstance(value, float) else str(value)
        if isinstance(value, bytes):
            return self.bytes_literal(value)
        if isinstance(value, str):
            return self.quote_string(value)
        raise StateError(f"cannot render {value!r} as an SQL literal")

    def db_value(self, value: Any, kind: str) -> Any:
        """Convert a Python value into what a column of ``kind`` stores, as Tortoise does."""
        if isinstance(value, enum.Enum):
            value = value.value
        if kind == "JSONField" and not isinstance(value, str):
            return json.dumps(value, separators=(",", ":"))
        if kind == "TimeDeltaField" and isinstance(value, datetime.timedelta):
            return value // datetime.timedelta(microseconds=1)
        if isinstance(value, datetime.datetime):
            return value.isoformat()
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, uuid.UUID):
            return str(value)
        return value

    def param_value(self, value: Any, kind: str) -> Any:
        """Convert a Python value into a query parameter for a column of ``kind``."""
        return self.db_value(value, kind)

    def bool_literal(self, value: bool) -> str:
        """Render a boolean literal."""
        return "TRUE" if value else "FALSE"

    def bytes_literal(self, value: bytes) -> str:
        """Render a bytes literal."""
        return f"X'{value.hex()}'"

    def default_sql(self, column: Column) -> str:
        """Render the database default of ``column``."""
        return self.fill_sql(column.db_default, column.kind)

    def fill_sql(self, value: Any, kind: str) -> str:
        """Render what rows receive in a column of ``kind``: a literal, or the SQL of a
        database default (``SqlDefault``) when the column's ``db_default`` fills them."""
        if isinstance(value, SqlDefault):
            return value.for_dialect(self.dialect)
        return self.literal(value, kind)

    def update_reference(
        self, table: str, column: str, target: str, old_key: str, new_key: str
    ) -> str:
        """Return the UPDATE that replaces each value of the text column ``table.column``, a
        reference to ``target.old_key``, with the same row's ``target.new_key`` (as text)."""
        t, c, tt = self.quote(table), self.quote(column), self.quote(target)
        old, new = f"{tt}.{self.quote(old_key)}", f"{tt}.{self.quote(new_key)}"
        return (
            f"UPDATE {t} SET {c} = (SELECT CAST({new} AS TEXT) FROM {tt} "
            f"WHERE CAST({old} AS TEXT) = {t}.{c});"
        )

    def split_statements(self, sql: str) -> list[str]:
        """Return the single statements of ``sql`` (where scripts would break transactions)."""
        return [sql]

    # -- columns ------------------------------------------------------------------------------
    def column_type(self, column: Column) -> str:
        """Return the SQL type of ``column``."""
        try:
            template = self.types[column.kind]
        except KeyError:
            raise StateError(self._no_type(column)) from None
        return template.format(
            max_length=column.max_length,
            max_digits=column.max_digits,
            decimal_places=column.decimal_places,
            element_type=column.element_type,
            uuid_storage="BINARY(16)" if column.binary_compression else "CHAR(36)",
        )

    def _no_type(self, column: Column) -> str:
        needs = self.foreign_kinds.get(column.kind)
        if needs is None:
            return f"{self.dialect}: no SQL type for {column.kind}"
        return (
            f"{self.dialect}: column {column.name!r} is a {column.kind}, which only {needs} "
            f"has; migrate a {needs} database, or use another field type for it"
        )

    def generated_sql(self, column: Column) -> str:
        """Return ``GENERATED ALWAYS AS (...) STORED`` of a generated column ('' for others)."""
        if column.vector:
            raise StateError(self._no_type(column))
        return ""

    def column_sql(self, column: Column, *, default: str | None = None) -> str:
        """Return a column definition as Tortoise's generate_schemas writes it."""
        name = self.quote(column.name)
        if column.primary_key and column.generated:
            return f"{name} {self.generated_types[column.kind]}"
        parts = [name, self.column_type(column)]
        if column.vector:
            parts.append(self.generated_sql(column))
        if not column.null:
            parts.append("NOT NULL")
        if column.unique and not column.primary_key:
            parts.append("UNIQUE")
        if column.primary_key:
            parts.append("PRIMARY KEY")
        if default is not None:
            parts.append(f"DEFAULT {default}")
        elif column.db_default is not NOT_PROVIDED:
            parts.append(f"DEFAULT {self.default_sql(column)}")
        sql = " ".join(parts)
        if column.reference:
            sql += self.references_sql.format(
                table=self.quote(column.reference.table),
                column=self.quote(column.reference.column),
                on_delete=column.reference.on_delete,
            )
        return sql + self.inline_comment(column.description)

    def inline_comment(self, description: str | None) -> str:
        """Return a comment placed inside CREATE TABLE; empty where comments are statements."""
        return ""

    # -- tables and indexes -------------------------------------------------------------------
    def table_definitions(self, table: Table) -> list[str]:
        """Return the column and constraint lines of ``CREATE TABLE``."""
        lines = [self.column_sql(c) for c in table.columns]
        lines += [self.unique_definition(u) for u in table.uniques]
        lines += [self.check_definition(c) for c in table.checks]
        lines += [self.exclusion_definition(x) for x in table.exclusions]
        return lines

    def unique_definition(self, unique: TableUnique) -> str:
        """Return a table-level UNIQUE constraint line."""
        return self.unique_sql.format(
            name=self.quote(unique.name), columns=self.columns(unique.columns)
        )

    def check_definition(self, check: TableCheck) -> str:
        """Return a table-level CHECK constraint line."""
        return self.check_sql.format(name=self.quote(check.name), check=check.check)

    def exclusion_definition(self, exclusion: TableExclusion) -> str:
        """Return a table-level EXCLUDE constraint line (PostgreSQL only)."""
        raise StateError(
            f"{self.dialect}: exclusion constraint {exclusion.name} needs PostgreSQL; "
            "remove it from Meta.march_constraints or migrate a PostgreSQL database"
        )

    def create_extension(self, name: str) -> list[str]:
        """Return CREATE EXTENSION IF NOT EXISTS (nothing where the backend has no extensions)."""
        return []

    def drop_extension(self, name: str) -> list[str]:
        """Return DROP EXTENSION IF EXISTS (nothing where the backend has no extensions)."""
        return []

    def columns(self, names: tuple[str, ...]) -> str:
        """Return a comma-separated list of quoted column names."""
        return ", ".join(self.quote(n) for n in names)

    def create_table(self, table: Table, *, name: str | None = None) -> list[str]:
        """Return the statements that create ``table`` with its indexes and comments."""
        statement = self.create_table_sql.format(
            table=self.quote(name or table.name),
            definitions=",\n    ".join(self.table_definitions(table)),
            extra=self.inline_comment(table.description),
        )
        indexes = [self.create_index(table.name, index) for index in table.indexes]
        return [statement, *indexes, *self.comments(table)]

    def comments(self, table: Table) -> list[str]:
        """Return comment statements for a new table (dialects with COMMENT ON)."""
        return []

    def drop_table(self, table: Table) -> list[str]:
        """Return the statements that drop ``table``."""
        return [self.drop_table_sql.format(table=self.quote(table.name))]

    def create_index(self, table: str, index: TableIndex, *, concurrently: bool = False) -> str:
        """Return the statement that creates ``index`` on ``table``."""
        parts = [self.quote(c) for c in index.columns] or list(index.expressions)
        return self.create_index_sql.format(
            unique="UNIQUE " if index.unique else "",
            concurrently="CONCURRENTLY " if concurrently else "",
            name=self.quote(index.name),
            table=self.quote(table),
            using=self.index_using(index),
            columns=", ".join(parts),
            include=f" INCLUDE ({self.columns(index.include)})"
            if index.include and self.supports_include
            else "",
            where=f" WHERE {index.condition}" if index.condition else "",
        )

    def index_using(self, index: TableIndex) -> str:
        """Return the index method clause."""
        return ""

    def create_index_concurrently(self, table: str, index: TableIndex) -> list[Any]:
        """Return the statements that build ``index`` without blocking writes (where the backend
        can; a plain CREATE INDEX elsewhere)."""
        return [self.create_index(table, index)]

    def drop_index_concurrently(self, table: str, index: TableIndex) -> list[Any]:
        """Return the statements that drop ``index`` without blocking writes (where it can)."""
        return [self.drop_index(table, index)]

    def add_unique_concurrently(self, table: Table, name: str) -> list[Any]:
        """Return the statements that add the unique constraint ``name`` of ``table`` over an
        index built CONCURRENTLY (backends with ``supports_concurrently``)."""
        raise NotImplementedError

    def drop_index(self, table: str, index: TableIndex) -> str:
        """Return the statement that drops ``index``."""
        return self.drop_index_sql.format(name=self.quote(index.name), table=self.quote(table))

    def alter_table(self, change: TableChange) -> list[str]:
        """Return the statements that turn ``change.old`` into ``change.new``, keeping rows."""
        raise NotImplementedError

    def null_check(self, table: str, column: str) -> NullCheck:
        """Return the check that no row of ``table`` holds NULL in ``column``."""
        sql = f"SELECT COUNT(*) FROM {self.quote(table)} WHERE {self.quote(column)} IS NULL;"
        return NullCheck(sql, table, column)

    # -- NOT VALID constraints ----------------------------------------------------------------
    def add_check_not_valid(self, table: str, check: TableCheck) -> list[str]:
        """Return ADD CONSTRAINT ... CHECK ... NOT VALID (existing rows are not checked)."""
        raise NotImplementedError

    def add_foreign_key_not_valid(self, table: str, column: Column) -> list[str]:
        """Return ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID for ``column``."""
        raise NotImplementedError

    def validate_constraint(self, table: str, name: str) -> list[str]:
        """Return the statement that checks the existing rows against a NOT VALID constraint."""
        return []

    def foreign_key_name(self, table: str, column: str) -> str:
        """Return the name of the foreign key constraint of ``table.column``."""
        raise NotImplementedError

    # -- session settings ---------------------------------------------------------------------
    def session_settings(
        self, lock_timeout: str | None, statement_timeout: str | None, *, local: bool
    ) -> list[str]:
        """Return the statements that set the lock and statement timeouts (``local``: for the
        current transaction only). Backends without such settings return nothing."""
        return []

    def reset_settings(self) -> list[str]:
        """Return the statements that undo :meth:`session_settings` on a session."""
        return []

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """Return whether ``exc`` (or its cause) is the lock timeout firing."""
        return False

    async def connect(self, client: Any) -> None:
        """Make sure ``client`` can be queried; Tortoise connects on the first query, so most
        backends have nothing to do here."""

    @asynccontextmanager
    async def pinned(self, client: Any) -> AsyncIterator[Any]:
        """Yield a connection-like object that runs every statement on one connection."""
        yield client

    # -- recorder -----------------------------------------------------------------------------
    def recorder_create(self) -> str:
        """Return the statement that creates the recorder table if it is missing."""
        raise NotImplementedError

    def placeholders(self, count: int) -> list[str]:
        """Return ``count`` parameter placeholders."""
        return ["?"] * count

    def recorder_insert(self) -> str:
        """Return the parametrised INSERT of one recorder row (app, name, checksum)."""
        marks = ", ".join(self.placeholders(3))
        return (
            f"INSERT INTO {self.quote(RECORDER_TABLE)} "
            f"({self.columns(('app', 'name', 'checksum'))}) VALUES ({marks})"
        )

    def recorder_delete(self) -> str:
        """Return the parametrised DELETE of one recorder row (app, name)."""
        a, n = self.placeholders(2)
        return (
            f"DELETE FROM {self.quote(RECORDER_TABLE)} "
            f"WHERE {self.quote('app')} = {a} AND {self.quote('name')} = {n}"
        )

    def recorder_rewrite_checksum(self) -> str:
        """Return the parametrised UPDATE of one row's checksum (new, app, name, old)."""
        new, a, n, old = self.placeholders(4)
        return (
            f"UPDATE {self.quote(RECORDER_TABLE)} SET {self.quote('checksum')} = {new} "
            f"WHERE {self.quote('app')} = {a} AND {self.quote('name')} = {n} "
            f"AND {self.quote('checksum')} = {old}"
        )

    def recorder_select(self) -> str:
        """Return the SELECT of every recorder row."""
        cols = self.columns(("app", "name", "checksum", "applied_at"))
        return f"SELECT {cols} FROM {self.quote(RECORDER_TABLE)} ORDER BY {self.quote('id')}"

    def recorder_describe(self) -> tuple[str, list[Any]]:
        """Return a query (and its parameters) for the relation called like the recorder, as
        the recorder's own statements find it: one row per column, ``kind`` (a key of
        :attr:`relation_kinds`) and ``col``; no row when there is no such relation."""
        raise NotImplementedError

    def existing_tables(self, names: list[str]) -> tuple[str, list[Any]]:
        """Return a query (and its parameters) for those of ``names`` that name a table or
        view the unqualified name would find (column ``name``)."""
        raise NotImplementedError

    def relation_kind(self, kind: str) -> str:
        """Return the word for a catalog's relation kind (``table``, ``view``, ...)."""
        return self.relation_kinds.get(kind, kind)
