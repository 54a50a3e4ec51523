"""MySQL/MariaDB statements that need the live server: which server it is, and names it chose.

Most of the SQL the MySQL editor writes is plain text. A few statements depend on what only the
server knows: whether it is MariaDB or MySQL (``DROP CONSTRAINT`` against MySQL 8's ``DROP CHECK``,
``max_statement_time`` against ``max_execution_time``), the names it gave foreign keys (a through
table's ``t_ibfk_1``, or a key created before a rename), and whether a table holds rows (a new
NOT NULL column without a value). Those are objects with ``run(conn)``, printed as the SQL they
run on MariaDB, with the MySQL form alongside where it differs.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from ..exceptions import StateError
from .changes import first_value

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Server:
    """The server a connection talks to: MariaDB or MySQL, and its version."""

    mariadb: bool
    version: tuple[int, int, int]

    @classmethod
    def parse(cls, text: str) -> Server:
        """Read ``SELECT VERSION()`` (``10.11.6-MariaDB-0+deb12u1``, ``8.0.36``)."""
        found = _VERSION.search(text)
        numbers = tuple(int(n) for n in found.groups()) if found else (0, 0, 0)
        return cls("mariadb" in text.lower(), (numbers[0], numbers[1], numbers[2]))


async def server_of(conn: Any) -> Server:
    """Return the server behind ``conn``."""
    _, rows = await conn.execute_query("SELECT VERSION() AS version")
    return Server.parse(str(first_value(rows[0])) if rows else "")


@dataclass(frozen=True)
class ByServer:
    """One statement written one way for MariaDB and another for MySQL."""

    mariadb: str
    mysql: str

    def __str__(self) -> str:
        if self.mariadb == self.mysql:
            return self.mariadb
        return f"{self.mariadb}\n-- on MySQL: {self.mysql}"

    async def run(self, conn: Any, connection_for: Any = None) -> None:
        """Run the form the server understands."""
        server = await server_of(conn)
        await conn.execute_script(self.mariadb if server.mariadb else self.mysql)


@dataclass(frozen=True)
class DropForeignKey:
    """``DROP FOREIGN KEY`` of the foreign key on ``table.column``, under the name the server
    has for it (read from information_schema when the statement runs); ``guess`` is the name
    it is printed with. With ``drop_index``, the index the server made for it goes too."""

    table: str
    column: str
    guess: str
    drop_index: bool = False
    # The name the index the server made for the key gets (kept for the key added again).
    rename_index: str | None = None


@dataclass(frozen=True)
class DropKeyIndex:
    """``DROP INDEX`` of the index the server made for the foreign key on ``table.column``
    (named like the key as the server has it), once another index serves the key."""

    table: str
    column: str
    guess: str


@dataclass(frozen=True)
class DropCheck:
    """Drop the CHECK constraint ``name``: ``DROP CONSTRAINT`` on MariaDB, ``DROP CHECK`` on
    MySQL 8 (MariaDB has no ``DROP CHECK``; MySQL before 8.0.19 no ``DROP CONSTRAINT``)."""

    name: str


FK_NAMES = (
    "SELECT CONSTRAINT_NAME AS name FROM information_schema.KEY_COLUMN_USAGE "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND COLUMN_NAME = %s "
    "AND REFERENCED_TABLE_NAME IS NOT NULL ORDER BY CONSTRAINT_NAME"
)
INDEX_NAMES = (
    "SELECT DISTINCT INDEX_NAME AS name FROM information_schema.STATISTICS "
    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND INDEX_NAME = %s"
)


@dataclass(frozen=True)
class AlterTable:
    """One ``ALTER TABLE`` with several clauses, some resolved against the server."""

    table: str
    clauses: tuple[Any, ...]
    quote: Any
    # Online algorithms asked for in turn (``safe_defaults``); empty: the server chooses.
    algorithms: tuple[str, ...] = ()

    def __str__(self) -> str:
        shown = []
        mysql_differs = False
        for clause in self.clauses:
            if isinstance(clause, DropForeignKey):
                shown.append(f"DROP FOREIGN KEY {self.quote(clause.guess)}")
                if clause.drop_index:
                    shown.append(f"DROP INDEX {self.quote(clause.guess)}")
                elif clause.rename_index and clause.rename_index != clause.guess:
                    shown.append(
                        f"RENAME INDEX {self.quote(clause.guess)} TO "
                        f"{self.quote(clause.rename_index)}"
                    )
            elif isinstance(clause, DropKeyIndex):
                shown.append(f"DROP INDEX {self.quote(clause.guess)}")
            elif isinstance(clause, DropCheck):
                shown.append(f"DROP CONSTRAINT {self.quote(clause.name)}")
                mysql_differs = True
            else:
                shown.append(clause)
        if self.algorithms:
            shown.append(self.algorithms[0])
        text = f"ALTER TABLE {self.quote(self.table)} {', '.join(shown)};"
        if len(self.algorithms) > 1:
            text += f"\n-- {self.algorithms[1]} where the server has no INSTANT form of it"
        if mysql_differs:
            text += "\n-- on MySQL 8 a CHECK constraint is dropped with DROP CHECK"
        return text

    async def _has_index(self, conn: Any, name: str) -> bool:
        _, found = await conn.execute_query(INDEX_NAMES, [self.table, name])
        return bool(found)

    async def run(self, conn: Any, connection_for: Any = None) -> None:
        """Resolve the names and the server, then run the one statement."""
        server = None
        rendered: list[str] = []
        for clause in self.clauses:
            if isinstance(clause, DropForeignKey):
                _, rows = await conn.execute_query(FK_NAMES, [self.table, clause.column])
                for row in rows:
                    name = str(first_value(row))
                    rendered.append(f"DROP FOREIGN KEY {self.quote(name)}")
                    wanted = clause.drop_index or clause.rename_index not in (None, name)
                    if wanted and await self._has_index(conn, name):
                        if clause.drop_index:
                            rendered.append(f"DROP INDEX {self.quote(name)}")
                        else:
                            target = self.quote(str(clause.rename_index))
                            rendered.append(f"RENAME INDEX {self.quote(name)} TO {target}")
            elif isinstance(clause, DropKeyIndex):
                _, rows = await conn.execute_query(FK_NAMES, [self.table, clause.column])
                for row in rows:
                    name = str(first_value(row))
                    if await self._has_index(conn, name):
                        rendered.append(f"DROP INDEX {self.quote(name)}")
            elif isinstance(clause, DropCheck):
                server = server or await server_of(conn)
                verb = "CONSTRAINT" if server.mariadb else "CHECK"
                rendered.append(f"DROP {verb} {self.quote(clause.name)}")
            else:
                rendered.append(clause)
        if not rendered:
            return
        sql = f"ALTER TABLE {self.quote(self.table)} {', '.join(rendered)}"
        if not self.algorithms:
            await conn.execute_script(f"{sql};")
            return
        reasons = []
        for algorithm in self.algorithms:
            try:
                await conn.execute_script(f"{sql}, {algorithm};")
                return
            except Exception as exc:
                if error_code(exc) not in ALGORITHM_REFUSED:
                    raise
                reasons.append(_last_args(exc))
        raise OnlineRefused(
            f"table {self.table}: the server cannot make this change without copying the table "
            f"or blocking writes ({'; '.join(reasons)}); safe_defaults asks for online changes "
            "only: run this migration at a quiet time with safe_defaults = false, or split the "
            "change"
        )


# ER_ALTER_OPERATION_NOT_SUPPORTED(_REASON): the server refuses the ALGORITHM/LOCK asked for.
ALGORITHM_REFUSED = (1845, 1846)


def error_code(exc: BaseException) -> int | None:
    """Return the server's error number in ``exc``'s chain (None when there is none)."""
    seen: BaseException | None = exc
    while seen is not None:
        args = getattr(seen, "args", ())
        if args and isinstance(args[0], int):
            return args[0]
        seen = seen.__cause__ or seen.__context__
    return None


def _last_args(exc: BaseException) -> str:
    seen: BaseException | None = exc
    while seen is not None:
        args: tuple[Any, ...] = tuple(getattr(seen, "args", ()))
        if len(args) > 1 and isinstance(args[0], int):
            return str(args[1])
        seen = seen.__cause__ or seen.__context__
    return str(exc)


class OnlineRefused(StateError):
    """The server would copy the table or block writes for a change asked to run online."""


class RowsWithoutValue(StateError):
    """Rows exist in a table that gets a NOT NULL column nobody gave a value for."""


@dataclass(frozen=True)
class RowsCheck:
    """Stop before a NOT NULL column without a default or a one-off value is added to a table
    that holds rows: MySQL would give them ``''``, ``0`` or a zero date, which nobody asked for."""

    sql: str
    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.sql} -- must be 0: {self.column} is NOT NULL and has no value for rows"

    async def run(self, conn: Any, connection_for: Any = None) -> None:
        """Count the rows; raise RowsWithoutValue when there are any."""
        _, rows = await conn.execute_query(self.sql)
        count = int(first_value(rows[0])) if rows else 0
        if count:
            raise RowsWithoutValue(
                f'table "{self.table}" has {count} row{"s" if count > 1 else ""} and gets the '
                f'NOT NULL column "{self.column}" with no value for them (MySQL would store '
                "'', 0 or a zero date); give the field a default, a one-off value (answer 1 in "
                "makemigrations) or null=True, or fill the table in a RunPython first"
            )


class PinnedConnection:
    """The methods the executor uses, on one asyncmy (or aiomysql) connection of the pool."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    async def execute_script(self, sql: str) -> None:
        """Run one or more statements (no parameters: ``%`` is literal)."""
        async with self.raw.cursor() as cursor:
            await cursor.execute(sql)

    async def execute_query(self, sql: str, values: list[Any] | None = None) -> tuple[int, Any]:
        """Run one statement with parameters; return (row count, rows as dicts)."""
        async with self.raw.cursor() as cursor:
            await cursor.execute(sql, values or None)
            rows = await cursor.fetchall()
            if not rows:
                return cursor.rowcount, []
            names = [d[0] for d in cursor.description]
            return cursor.rowcount, [dict(zip(names, row, strict=True)) for row in rows]

    async def execute_many(self, sql: str, values: list[Any]) -> None:
        """Run one statement once per parameter list."""
        async with self.raw.cursor() as cursor:
            await cursor.executemany(sql, values)

    @asynccontextmanager
    async def _in_transaction(self) -> AsyncIterator[PinnedConnection]:
        """Run the body in one transaction on this connection."""
        await self.raw.begin()
        try:
            yield self
        except BaseException:
            await self.raw.rollback()
            raise
        await self.raw.commit()


REFERENCING = (
    "SELECT k.TABLE_NAME AS tbl, k.COLUMN_NAME AS col, k.CONSTRAINT_NAME AS name, "
    "r.DELETE_RULE AS rule, c.IS_NULLABLE AS nullable, c.COLUMN_COMMENT AS comment "
    "FROM information_schema.KEY_COLUMN_USAGE k "
    "JOIN information_schema.REFERENTIAL_CONSTRAINTS r "
    "ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME "
    "AND r.TABLE_NAME = k.TABLE_NAME "
    "JOIN information_schema.COLUMNS c ON c.TABLE_SCHEMA = k.TABLE_SCHEMA "
    "AND c.TABLE_NAME = k.TABLE_NAME AND c.COLUMN_NAME = k.COLUMN_NAME "
    "WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME = %s "
    "AND k.REFERENCED_COLUMN_NAME = %s ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME"
)


@dataclass(frozen=True)
class WithReferences:
    """Run ``statement`` (which changes the type of ``table.column``) past the foreign keys of
    other tables that point at that column: MySQL refuses to change a referenced column. Each
    such key is dropped, the referencing column gets the new ``column_type`` (keeping its
    nullability and comment), and the key is added again under its name and ON DELETE rule."""

    statement: Any
    table: str
    column: str
    column_type: str
    quote: Any
    old_column: str = ""

    def __str__(self) -> str:
        return (
            f"-- foreign keys pointing at {self.table}.{self.column} are dropped first, their "
            f"columns made {self.column_type} and the keys added again after:\n{self.statement}"
        )

    async def run(self, conn: Any, connection_for: Any = None) -> None:
        """Drop the referencing keys, run the statement, retype and add the keys again."""
        q = self.quote
        _, rows = await conn.execute_query(
            REFERENCING, [self.table, self.old_column or self.column]
        )
        keys = [
            row if isinstance(row, dict) else dict(zip(_KEYS, row, strict=True)) for row in rows
        ]
        for key in keys:
            await conn.execute_script(
                f"ALTER TABLE {q(key['tbl'])} DROP FOREIGN KEY {q(key['name'])};"
            )
        if isinstance(self.statement, str):
            await conn.execute_script(self.statement)
        else:
            await self.statement.run(conn, connection_for)
        for key in keys:
            null = "" if key["nullable"] == "YES" else " NOT NULL"
            comment = key["comment"] or ""
            comment_sql = ""
            if comment:
                escaped = comment.replace("\\", "\\\\").replace("'", "''")
                comment_sql = f" COMMENT '{escaped}'"
            await conn.execute_script(
                f"ALTER TABLE {q(key['tbl'])} MODIFY COLUMN {q(key['col'])} "
                f"{self.column_type}{null}{comment_sql}, ADD CONSTRAINT {q(key['name'])} "
                f"FOREIGN KEY ({q(key['col'])}) REFERENCES {q(self.table)} ({q(self.column)}) "
                f"ON DELETE {key['rule']};"
            )


_KEYS = ("tbl", "col", "name", "rule", "nullable", "comment")
