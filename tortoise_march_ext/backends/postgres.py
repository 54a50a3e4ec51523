"""PostgreSQL schema editor: transactional DDL, types and literals, CREATE TABLE, concurrent
indexes, NOT VALID constraints, session settings and the recorder's SQL.

Changing a table in place (ALTER TABLE, renames, COMMENT ON) lives in :mod:`.pg_alter`.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from ..schema.tables import Column, Table, TableCheck, TableExclusion, TableIndex
from .base import RECORDER_TABLE
from .names import PG_NAME_BYTES, pg_name
from .pg_alter import PostgresAlter
from .pg_indexes import AttachUnique, ConcurrentIndex

_NATIVE = (datetime.date, datetime.time, datetime.timedelta, uuid.UUID)


class PinnedConnection:
    """The two methods the executor uses, on one asyncpg connection."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def execute_script(self, sql: str) -> None:
        """Run one or more statements."""
        await self.raw.execute(sql)

    async def execute_query(self, sql: str, values: list[Any] | None = None) -> tuple[int, Any]:
        """Run one statement with parameters; return (row count, rows)."""
        rows = await self.raw.fetch(sql, *(values or []))
        return len(rows), rows

    @asynccontextmanager
    async def _in_transaction(self) -> AsyncIterator[PinnedConnection]:
        """Run the body in one transaction on this connection, as Tortoise clients do."""
        async with self.raw.transaction():
            yield self


class PostgresEditor(PostgresAlter):
    """DDL for PostgreSQL, as Tortoise's asyncpg and psycopg backends build schemas."""

    dialect = "postgres"
    identifier_max_bytes = PG_NAME_BYTES
    supports_not_valid = True
    supports_include = True
    supports_concurrently = True
    can_rollback_ddl = True
    supports_comments = True
    types: ClassVar[dict[str, str]] = {
        "IntField": "INT",
        "BigIntField": "BIGINT",
        "SmallIntField": "SMALLINT",
        "CharField": "VARCHAR({max_length})",
        "TextField": "TEXT",
        "BooleanField": "BOOL",
        "DecimalField": "DECIMAL({max_digits},{decimal_places})",
        "FloatField": "DOUBLE PRECISION",
        "DateField": "DATE",
        "DatetimeField": "TIMESTAMPTZ",
        "TimeField": "TIMETZ",
        "TimeDeltaField": "BIGINT",
        "UUIDField": "UUID",
        "JSONField": "JSONB",
        "BinaryField": "BYTEA",
        "CharEnumField": "VARCHAR({max_length})",
        "IntEnumField": "SMALLINT",
        "ArrayField": "{element_type}[]",
        "TSVectorField": "TSVECTOR",
        # tortoise.contrib.mysql fields, as generate_schemas() builds them here.
        "GeometryField": "GEOMETRY",
        "MySQLUUIDField": "UUID",
    }
    foreign_kinds: ClassVar[dict[str, str]] = {}
    generated_types: ClassVar[dict[str, str]] = {
        "IntField": "SERIAL NOT NULL PRIMARY KEY",
        "BigIntField": "BIGSERIAL NOT NULL PRIMARY KEY",
        "SmallIntField": "SMALLSERIAL NOT NULL PRIMARY KEY",
    }

    def generated_sql(self, column: Column) -> str:
        """Return a generated TSVectorField's expression, as Tortoise writes it."""
        parts = []
        for source, weight in column.vector:
            text = f"COALESCE({self.quote(source)}, '')"
            if column.vector_config is not None:
                text = f"TO_TSVECTOR({self.quote_string(column.vector_config)},{text})"
            else:
                text = f"TO_TSVECTOR({text})"
            if weight is not None:
                text = f"SETWEIGHT({text},{self.quote_string(weight)})"
            parts.append(text)
        return f"GENERATED ALWAYS AS ({' || '.join(parts)}) STORED"

    def db_value(self, value: Any, kind: str) -> Any:
        """Convert as the base does; a list for an ArrayField becomes an array literal."""
        if kind == "ArrayField" and isinstance(value, (list, tuple)):
            return "{" + ",".join(_array_item(item) for item in value) + "}"
        return super().db_value(value, kind)

    def bytes_literal(self, value: bytes) -> str:
        """Render a bytea literal."""
        return f"'\\x{value.hex()}'::bytea"

    def index_using(self, index: TableIndex) -> str:
        """Return ``USING method`` for non-default index types."""
        return f"USING {index.index_type} " if index.index_type else ""

    def exclusion_definition(self, exclusion: TableExclusion) -> str:
        """Return ``CONSTRAINT name EXCLUDE USING method (element WITH op, ...) [WHERE (...)]``;
        a column is quoted, an SQL expression is written verbatim in parentheses."""
        elements = ", ".join(
            f"{self.quote(column) if column is not None else f'({sql})'} WITH {op}"
            for column, sql, op in exclusion.elements
        )
        where = f" WHERE ({exclusion.condition})" if exclusion.condition else ""
        return (
            f"CONSTRAINT {self.quote(exclusion.name)} EXCLUDE USING {exclusion.index_type} "
            f"({elements}){where}"
        )

    def create_extension(self, name: str) -> list[str]:
        """Return CREATE EXTENSION IF NOT EXISTS."""
        return [f"CREATE EXTENSION IF NOT EXISTS {self.quote(name)};"]

    def drop_extension(self, name: str) -> list[str]:
        """Return DROP EXTENSION IF EXISTS; it refuses (RESTRICT) while anything uses it."""
        return [f"DROP EXTENSION IF EXISTS {self.quote(name)};"]

    def comments(self, table: Table) -> list[str]:
        """Return COMMENT ON statements for a new table and its columns."""
        out = []
        if table.description:
            out.append(self.table_comment(table.name, table.description))
        for column in table.columns:
            if column.description:
                out.append(self.column_comment(table.name, column.name, column.description))
        return out

    def drop_index(self, table: str, index: TableIndex) -> str:
        """Return DROP INDEX."""
        return f"DROP INDEX {self.quote(index.name)};"

    def create_index_concurrently(self, table: str, index: TableIndex) -> list[Any]:
        """Return CREATE INDEX CONCURRENTLY, which first gets past what an interrupted earlier
        build left (see :mod:`.pg_indexes`) and drops its own INVALID index when it fails."""
        sql = self.create_index(table, index, concurrently=True)
        return [ConcurrentIndex(sql, index.name, table, index, self)]

    def add_unique_concurrently(self, table: Table, name: str) -> list[Any]:
        """Return CREATE UNIQUE INDEX CONCURRENTLY; a partial unique constraint is that index,
        a plain one then becomes a constraint through ``ADD CONSTRAINT ... USING INDEX``."""
        partial = next((i for i in table.indexes if i.name == name), None)
        if partial is not None:
            return self.create_index_concurrently(table.name, partial)
        unique = next(u for u in table.uniques if u.name == name)
        index = TableIndex(name, unique.columns, unique=True)
        attach = AttachUnique(
            self._add_constraint(
                table.name, f"CONSTRAINT {self.quote(name)} UNIQUE USING INDEX {self.quote(name)}"
            ),
            table.name,
            name,
            self,
        )
        return [*self.create_index_concurrently(table.name, index), attach]

    def drop_index_concurrently(self, table: str, index: TableIndex) -> list[Any]:
        """Return DROP INDEX CONCURRENTLY."""
        return [f"DROP INDEX CONCURRENTLY IF EXISTS {self.quote(index.name)};"]

    # -- NOT VALID constraints ----------------------------------------------------------------
    def add_check_not_valid(self, table: str, check: TableCheck) -> list[str]:
        """Return ADD CONSTRAINT ... CHECK (...) NOT VALID."""
        return [f"ALTER TABLE {self.quote(table)} ADD {self.check_definition(check)} NOT VALID;"]

    def add_foreign_key_not_valid(self, table: str, column: Column) -> list[str]:
        """Return ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID."""
        return [self._add_fk(table, column).removesuffix(";") + " NOT VALID;"]

    def validate_constraint(self, table: str, name: str) -> list[str]:
        """Return VALIDATE CONSTRAINT (takes no lock that blocks writes)."""
        return [f"ALTER TABLE {self.quote(table)} VALIDATE CONSTRAINT {self.quote(name)};"]

    def foreign_key_name(self, table: str, column: str) -> str:
        """Return PostgreSQL's name for the foreign key of ``table.column``."""
        return pg_name(table, column, "fkey")

    # -- session settings ---------------------------------------------------------------------
    def session_settings(
        self, lock_timeout: str | None, statement_timeout: str | None, *, local: bool
    ) -> list[str]:
        """Return SET [LOCAL] lock_timeout / statement_timeout."""
        verb = "SET LOCAL" if local else "SET"
        out = []
        for name, value in (
            ("lock_timeout", lock_timeout),
            ("statement_timeout", statement_timeout),
        ):
            if value is not None:
                out.append(f"{verb} {name} = {self.quote_string(value)};")
        return out

    def reset_settings(self) -> list[str]:
        """Return RESET of both timeouts."""
        return ["RESET lock_timeout;", "RESET statement_timeout;"]

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """Return whether SQLSTATE 55P03 (lock_not_available) is in the exception chain."""
        seen: BaseException | None = exc
        while seen is not None:
            if getattr(seen, "sqlstate", None) == "55P03":
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    @asynccontextmanager
    async def pinned(self, client: Any) -> AsyncIterator[Any]:
        """Yield one pooled connection of ``client`` for statements that share session
        settings outside a transaction."""
        async with client.acquire_connection() as raw:
            yield PinnedConnection(raw)

    # -- recorder -----------------------------------------------------------------------------
    relation_kinds: ClassVar[dict[str, str]] = {
        "r": "table",
        "p": "table",
        "v": "view",
        "m": "materialized view",
        "f": "foreign table",
        "S": "sequence",
        "i": "index",
        "c": "composite type",
    }

    def param_value(self, value: Any, kind: str) -> Any:
        """Keep dates, times and UUIDs native (asyncpg encodes them); JSON goes as text."""
        if kind in ("JSONField", "TimeDeltaField") or not isinstance(value, _NATIVE):
            return self.db_value(value, kind)
        return value

    def placeholders(self, count: int) -> list[str]:
        """Return asyncpg's numbered placeholders."""
        return [f"${i}" for i in range(1, count + 1)]

    def recorder_create(self) -> str:
        """Return CREATE TABLE IF NOT EXISTS for the recorder."""
        return (
            f"CREATE TABLE IF NOT EXISTS {self.quote(RECORDER_TABLE)} ("
            f'"id" SERIAL NOT NULL PRIMARY KEY, '
            f'"app" VARCHAR(255) NOT NULL, "name" VARCHAR(255) NOT NULL, '
            f'"checksum" VARCHAR(64) NOT NULL, '
            f'"applied_at" TIMESTAMPTZ NOT NULL DEFAULT CURRENT_TIMESTAMP, '
            f'UNIQUE ("app", "name"));'
        )

    def existing_tables(self, names: list[str]) -> tuple[str, list[Any]]:
        """Return a query for those of ``names`` that are relations on the search path."""
        return (
            "SELECT c.relname::text AS name FROM pg_class c WHERE c.relname = ANY($1::text[]) "
            "AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND pg_table_is_visible(c.oid) "
            "ORDER BY c.relname",
            [list(names)],
        )

    def recorder_describe(self) -> tuple[str, list[Any]]:
        """Return the kind and columns of the relation the recorder's name resolves to on the
        search path (as the recorder's unqualified statements resolve it)."""
        return (
            "SELECT c.relkind::text AS kind, a.attname::text AS col FROM pg_class c "
            "LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 "
            "AND NOT a.attisdropped WHERE c.oid = to_regclass($1) ORDER BY a.attnum",
            [self.quote(RECORDER_TABLE)],
        )


def _array_item(value: Any) -> str:
    """Return one element of a PostgreSQL array literal (text quoted, ``"`` and ``\\`` escaped)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'
