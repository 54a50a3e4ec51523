"""MySQL and MariaDB schema editor: tables as Tortoise's MySQL schema generator writes them.

Tables are created exactly as ``Tortoise.generate_schemas()`` creates them on MySQL: backticks,
``CHARACTER SET utf8mb4``, inline ``COMMENT``, foreign keys as named table constraints
(``fk_<table>_<target>_<hash>``; unnamed on through tables), and indexes inline as ``KEY``.
Changes to a table are one ``ALTER TABLE`` with several clauses where the server allows it (see
:mod:`.mysql_alter`), because MySQL commits each DDL statement. Migration sessions run in strict
SQL mode, so the server never invents a value for a row.
"""

from __future__ import annotations

import datetime
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from hashlib import sha256
from typing import Any, ClassVar

from ..exceptions import StateError
from ..schema.state import NOT_PROVIDED
from ..schema.tables import Column, Table, TableIndex
from .base import RECORDER_TABLE, SchemaEditor
from .changes import TableChange
from .mysql_run import AlterTable, ByServer, PinnedConnection, RowsCheck

# MySQL and MariaDB refuse identifiers longer than 64 characters (they are not cut).
MYSQL_NAME_CHARS = 64
STRICT_MODES = (
    "STRICT_ALL_TABLES",
    "NO_ZERO_DATE",
    "NO_ZERO_IN_DATE",
    "ERROR_FOR_DIVISION_BY_ZERO",
)
OWN_INDEX_TYPES = ("FULLTEXT", "SPATIAL")
INPLACE = ("ALGORITHM=INPLACE, LOCK=NONE",)
LOCK_WAIT_TIMEOUT = 1205  # ER_LOCK_WAIT_TIMEOUT, for row locks and metadata locks alike
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(us|ms|s|min|h|d)?$")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}


class _RecorderExists(logging.Filter):
    """Drop the driver's log line for the note ``CREATE TABLE IF NOT EXISTS`` of the recorder
    (and other tables of this package) raises each time the table is already there."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not _OUR_TABLE_EXISTS.match(record.getMessage())


_OUR_TABLE_EXISTS = re.compile(r"^Table 'tortoise_march_\w*' already exists$")
for _driver in ("asyncmy", "aiomysql"):
    logging.getLogger(_driver).addFilter(_RecorderExists())


def fk_name(table: str, column: str, target: str, target_column: str) -> str:
    """Return the name Tortoise gives the foreign key ``table.column -> target.target_column``."""
    digest = sha256(";".join((table, column, target, target_column)).encode("utf-8")).hexdigest()
    return f"fk_{table[:8]}_{target[:8]}_{digest[:8]}"


def seconds(duration: str) -> float:
    """Return a PostgreSQL-style duration (``"2s"``, ``"500ms"``, ``"1min"``; bare: ms) in s."""
    found = _DURATION.match(duration.strip())
    if not found:
        return float(duration)
    return float(found.group(1)) * _UNIT_SECONDS[found.group(2) or "ms"]


class MySQLEditor(SchemaEditor):
    """DDL for MySQL 8 and MariaDB 10.5+, as Tortoise's MySQL backend builds schemas."""

    dialect = "mysql"
    can_rollback_ddl = False
    # Read by the non-transactional migration marks (each DDL statement commits).
    transactional_ddl: ClassVar[bool] = False
    supports_comments = True
    quote_char = "`"
    charset = "utf8mb4"
    types: ClassVar[dict[str, str]] = {
        "IntField": "INT",
        "BigIntField": "BIGINT",
        "SmallIntField": "SMALLINT",
        "CharField": "VARCHAR({max_length})",
        "TextField": "LONGTEXT",
        "BooleanField": "BOOL",
        "DecimalField": "DECIMAL({max_digits},{decimal_places})",
        "FloatField": "DOUBLE",
        "DateField": "DATE",
        "DatetimeField": "DATETIME(6)",
        "TimeField": "TIME(6)",
        "TimeDeltaField": "BIGINT",
        "UUIDField": "CHAR(36)",
        "JSONField": "JSON",
        "BinaryField": "LONGBLOB",
        "CharEnumField": "VARCHAR({max_length})",
        "IntEnumField": "SMALLINT",
        "GeometryField": "GEOMETRY",
        "MySQLUUIDField": "{uuid_storage}",
    }
    relation_kinds: ClassVar[dict[str, str]] = {
        "BASE TABLE": "table",
        "SYSTEM VERSIONED": "table",
        "VIEW": "view",
        "SYSTEM VIEW": "view",
        "SEQUENCE": "sequence",
        "TEMPORARY": "temporary table",
    }

    def quote(self, name: str) -> str:
        """Quote an identifier with backticks; refuse one longer than MySQL keeps (64)."""
        if len(name) > MYSQL_NAME_CHARS:
            raise StateError(
                f"mysql: the name {name!r} has {len(name)} characters; MySQL and MariaDB allow "
                f"at most {MYSQL_NAME_CHARS}: give the table, column, index or constraint a "
                "shorter name"
            )
        return super().quote(name)

    def __init__(self) -> None:
        # safe_defaults: ALTER TABLE asks for ALGORITHM=INSTANT / INPLACE, LOCK=NONE.
        self.online = False

    def configure(self, config: Any) -> None:
        """Take ``safe_defaults`` from the project's config: changes then run online or fail."""
        self.online = bool(getattr(config, "safe_defaults", False))

    # -- literals -----------------------------------------------------------------------------
    def quote_string(self, text: str) -> str:
        """Return a string literal; backslashes are escapes in MySQL strings (migration sessions
        run without NO_BACKSLASH_ESCAPES, see :meth:`session_settings`)."""
        escaped = text.replace("\\", "\\\\").replace("\0", "\\0").replace("'", "''")
        return f"'{escaped}'"

    def bool_literal(self, value: bool) -> str:
        """Render booleans as Tortoise writes them for MySQL (``1``/``0``)."""
        return "1" if value else "0"

    def db_value(self, value: Any, kind: str) -> Any:
        """Convert as the base does; datetimes become MySQL's ``YYYY-MM-DD HH:MM:SS.ffffff``
        (aware ones in UTC, as Tortoise stores them)."""
        if isinstance(value, datetime.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            return value.isoformat(sep=" ")
        return super().db_value(value, kind)

    def placeholders(self, count: int) -> list[str]:
        """Return the drivers' ``%s`` placeholders."""
        return ["%s"] * count

    def update_reference(
        self, table: str, column: str, target: str, old_key: str, new_key: str
    ) -> str:
        """Return the UPDATE of a text reference column (MySQL casts to CHAR, not TEXT)."""
        t, c, tt = self.quote(table), self.quote(column), self.quote(target)
        old, new = f"{tt}.{self.quote(old_key)}", f"{tt}.{self.quote(new_key)}"
        return (
            f"UPDATE {t} SET {c} = (SELECT CAST({new} AS CHAR) FROM {tt} "
            f"WHERE CAST({old} AS CHAR) = {t}.{c});"
        )

    # -- columns ------------------------------------------------------------------------------
    def column_definition(
        self, column: Column, *, keys: bool = True, default: str | None = None
    ) -> str:
        """Return ``name type [NOT NULL] [UNIQUE] [PRIMARY KEY] [AUTO_INCREMENT] [DEFAULT]
        [COMMENT]``; without ``keys`` (MODIFY, CHANGE) no index is declared."""
        parts = [self.quote(column.name), self.column_type(column)]
        if column.primary_key and column.generated:
            parts.append("NOT NULL")
            if keys:
                parts.append("PRIMARY KEY")
            parts.append("AUTO_INCREMENT")
        else:
            if not column.null:
                parts.append("NOT NULL")
            if keys and column.unique and not column.primary_key:
                parts.append("UNIQUE")
            if keys and column.primary_key:
                parts.append("PRIMARY KEY")
            if default is not None:
                parts.append(f"DEFAULT {default}")
            elif column.db_default is not NOT_PROVIDED:
                parts.append(f"DEFAULT {self.default_sql(column)}")
        if column.description:
            parts.append(f"COMMENT {self.quote_string(column.description)}")
        return " ".join(parts)

    def column_sql(self, column: Column, *, default: str | None = None) -> str:
        """Return a column definition as Tortoise's generate_schemas writes it."""
        return self.column_definition(column, default=default)

    def foreign_key_name(self, table: str, column: str) -> str:
        """Return the name of the foreign key of ``table.column`` (its reference is not known
        here: the name the server has is read when a statement needs it)."""
        return fk_name(table, column, "", "")

    def reference_name(self, table: Table, column: Column) -> str:
        """Return Tortoise's name for the foreign key of ``column`` in ``table``."""
        assert column.reference is not None
        ref = column.reference
        return fk_name(table.name, column.name, ref.table, ref.column)

    def foreign_key_definition(self, table: Table, column: Column) -> str:
        """Return ``[CONSTRAINT name] FOREIGN KEY (...) REFERENCES ... ON DELETE ...``; through
        tables (no primary key) leave the name to the server, as Tortoise does."""
        ref = column.reference
        assert ref is not None
        constraint = ""
        if any(c.primary_key for c in table.columns):
            constraint = f"CONSTRAINT {self.quote(self.reference_name(table, column))} "
        return (
            f"{constraint}FOREIGN KEY ({self.quote(column.name)}) REFERENCES "
            f"{self.quote(ref.table)} ({self.quote(ref.column)}) ON DELETE {ref.on_delete}"
        )

    # -- tables and indexes -------------------------------------------------------------------
    def index_definition(self, index: TableIndex) -> str:
        """Return ``[UNIQUE |FULLTEXT |SPATIAL ]KEY name (columns)`` for CREATE/ALTER TABLE.

        As in Tortoise, only MySQL's own index kinds (FULLTEXT, SPATIAL) are written; a method
        such as btree or hash is the server's choice, and INCLUDE columns are left out. A
        partial index (a condition) does not exist in MySQL: it is refused."""
        if index.condition:
            raise StateError(
                f"mysql: index {index.name} has a condition (WHERE {index.condition}), and "
                "MySQL and MariaDB have no partial indexes; drop the condition (or the index) "
                "from the model, or migrate a PostgreSQL or SQLite database"
            )
        kind = index.index_type.upper() if index.index_type.upper() in OWN_INDEX_TYPES else ""
        kind = "UNIQUE " if index.unique else (f"{kind} " if kind else "")
        parts = [self.quote(c) for c in index.columns] or list(index.expressions)
        return f"{kind}KEY {self.quote(index.name)} ({', '.join(parts)})"

    def table_definitions(self, table: Table) -> list[str]:
        """Return the lines of CREATE TABLE in Tortoise's order: columns, unique groups, foreign
        keys, checks, indexes."""
        for exclusion in table.exclusions:
            self.exclusion_definition(exclusion)
        lines = [self.column_sql(c) for c in table.columns]
        lines += [
            f"UNIQUE KEY {self.quote(u.name)} ({self.columns(u.columns)})" for u in table.uniques
        ]
        lines += [self.foreign_key_definition(table, c) for c in table.columns if c.reference]
        lines += [self.check_definition(c) for c in table.checks]
        lines += [self.index_definition(i) for i in table.indexes]
        return lines

    def table_options(self, table: Table) -> str:
        """Return `` CHARACTER SET utf8mb4[ COMMENT='...']``."""
        comment = f" COMMENT={self.quote_string(table.description)}" if table.description else ""
        return f" CHARACTER SET {self.charset}{comment}"

    def create_table(self, table: Table, *, name: str | None = None) -> list[str]:
        """Return CREATE TABLE with its keys, indexes and comments inline."""
        return [
            self.create_table_sql.format(
                table=self.quote(name or table.name),
                definitions=",\n    ".join(self.table_definitions(table)),
                extra=self.table_options(table),
            )
        ]

    def create_index(self, table: str, index: TableIndex, *, concurrently: bool = False) -> str:
        """Return ``ALTER TABLE ... ADD KEY`` for ``index``."""
        return f"ALTER TABLE {self.quote(table)} ADD {self.index_definition(index)};"

    def drop_index(self, table: str, index: TableIndex) -> str:
        """Return ``DROP INDEX name ON table``."""
        return f"DROP INDEX {self.quote(index.name)} ON {self.quote(table)};"

    def create_index_concurrently(self, table: str, index: TableIndex) -> list[Any]:
        """Return ADD KEY asking for ``ALGORITHM=INPLACE, LOCK=NONE``: built while writes go
        on, or refused at once where the server cannot (a FULLTEXT or SPATIAL index)."""
        return [AlterTable(table, (f"ADD {self.index_definition(index)}",), self.quote, INPLACE)]

    def drop_index_concurrently(self, table: str, index: TableIndex) -> list[Any]:
        """Return DROP INDEX asking for ``ALGORITHM=INPLACE, LOCK=NONE``."""
        return [AlterTable(table, (f"DROP INDEX {self.quote(index.name)}",), self.quote, INPLACE)]

    def alter_table(self, change: TableChange) -> list[Any]:
        """Return the statements that turn ``change.old`` into ``change.new`` (see
        :mod:`.mysql_alter`)."""
        from .mysql_alter import alter_statements

        return alter_statements(self, change)

    def rows_check(self, table: str, column: str) -> RowsCheck:
        """Return the check that ``table`` holds no row (before a NOT NULL column with no
        value for existing rows is added)."""
        sql = f"SELECT COUNT(*) AS n FROM {self.quote(table)};"
        return RowsCheck(sql, table, column)

    # -- session settings ---------------------------------------------------------------------
    def session_settings(
        self, lock_timeout: str | None, statement_timeout: str | None, *, local: bool
    ) -> list[Any]:
        """Return the statements that put the session in strict SQL mode (the server never
        invents a value for a row; backslashes escape in strings) and set the lock timeout
        (``lock_wait_timeout`` and ``innodb_lock_wait_timeout``, whole seconds, at least 1)
        and the statement timeout (MariaDB ``max_statement_time``, MySQL ``max_execution_time``).
        MySQL has no transaction-local settings: they hold for the session until
        :meth:`reset_settings`."""
        modes = ", ".join(self.quote_string(m) for m in STRICT_MODES)
        out: list[Any] = [
            "SET @march_sql_mode = COALESCE(@march_sql_mode, @@SESSION.sql_mode);",
            "SET SESSION sql_mode = TRIM(BOTH ',' FROM CONCAT_WS(',', "
            f"REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', ''), {modes}));",
        ]
        if lock_timeout is not None:
            wait = max(1, round(seconds(lock_timeout)))
            out.append(f"SET SESSION lock_wait_timeout = {wait};")
            out.append(f"SET SESSION innodb_lock_wait_timeout = {wait};")
        if statement_timeout is not None:
            limit = seconds(statement_timeout)
            out.append(
                ByServer(
                    f"SET SESSION max_statement_time = {limit:g};",
                    f"SET SESSION max_execution_time = {round(limit * 1000)};",
                )
            )
        return out

    def reset_settings(self) -> list[Any]:
        """Return the statements that undo :meth:`session_settings`."""
        return [
            "SET SESSION sql_mode = COALESCE(@march_sql_mode, @@SESSION.sql_mode);",
            "SET @march_sql_mode = NULL;",
            "SET SESSION lock_wait_timeout = DEFAULT;",
            "SET SESSION innodb_lock_wait_timeout = DEFAULT;",
            ByServer(
                "SET SESSION max_statement_time = DEFAULT;",
                "SET SESSION max_execution_time = DEFAULT;",
            ),
        ]

    def is_lock_timeout(self, exc: BaseException) -> bool:
        """Return whether error 1205 (lock wait timeout) is in the exception chain."""
        seen: BaseException | None = exc
        while seen is not None:
            args = getattr(seen, "args", ())
            if args and args[0] == LOCK_WAIT_TIMEOUT:
                return True
            seen = seen.__cause__ or seen.__context__
        return False

    @asynccontextmanager
    async def pinned(self, client: Any) -> AsyncIterator[Any]:
        """Yield one pooled connection of ``client`` for statements sharing session settings."""
        async with client.acquire_connection() as raw:
            yield PinnedConnection(raw)

    # -- recorder -----------------------------------------------------------------------------
    def recorder_create(self) -> str:
        """Return CREATE TABLE IF NOT EXISTS for the recorder (InnoDB, utf8mb4)."""
        q = self.quote
        return (
            f"CREATE TABLE IF NOT EXISTS {q(RECORDER_TABLE)} ("
            f"{q('id')} INT NOT NULL PRIMARY KEY AUTO_INCREMENT, "
            f"{q('app')} VARCHAR(255) NOT NULL, {q('name')} VARCHAR(255) NOT NULL, "
            f"{q('checksum')} VARCHAR(64) NOT NULL, "
            f"{q('applied_at')} DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), "
            f"UNIQUE KEY {q('uid_tortoise_march_app_name')} ({q('app')}, {q('name')})"
            f") ENGINE=InnoDB CHARACTER SET {self.charset};"
        )

    def existing_tables(self, names: list[str]) -> tuple[str, list[Any]]:
        """Return a query for those of ``names`` that are tables or views of the database."""
        marks = ", ".join(self.placeholders(len(names)))
        return (
            "SELECT TABLE_NAME AS name FROM information_schema.TABLES "
            f"WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME IN ({marks}) ORDER BY TABLE_NAME",
            list(names),
        )

    def recorder_describe(self) -> tuple[str, list[Any]]:
        """Return the kind and columns of the relation of the database named like the recorder."""
        return (
            "SELECT t.TABLE_TYPE AS kind, c.COLUMN_NAME AS col FROM information_schema.TABLES t "
            "LEFT JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = t.TABLE_SCHEMA "
            "AND c.TABLE_NAME = t.TABLE_NAME "
            "WHERE t.TABLE_SCHEMA = DATABASE() AND t.TABLE_NAME = %s ORDER BY c.ORDINAL_POSITION",
            [RECORDER_TABLE],
        )
