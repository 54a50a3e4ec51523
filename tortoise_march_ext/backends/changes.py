"""What a table change is, before any SQL: the old and new table with renames and row fills
(:class:`TableChange`), matching old and new items by key (:func:`matched`), and the check that
stops a column becoming NOT NULL while rows hold NULL (:class:`NullCheck`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..exceptions import StateError
from ..schema.tables import Column, Table, TableIndex


@dataclass(frozen=True)
class TableChange:
    """How one table changes: old and new definitions plus what the operation knows.

    ``renames`` maps new column names to old ones; ``fills`` gives the value that existing rows
    receive in a new or newly NOT NULL column (a one-off default, never kept as a DB default).
    """

    old: Table
    new: Table
    renames: dict[str, str]
    fills: dict[str, Any]

    def old_name_of(self, column: str) -> str:
        """Return the old name of the new column ``column``."""
        return self.renames.get(column, column)

    def pairs(self) -> list[tuple[Column, Column]]:
        """Return (old column, new column) for every column present on both sides."""
        old = {c.name: c for c in self.old.columns}
        return [
            (old[self.old_name_of(c.name)], c)
            for c in self.new.columns
            if self.old_name_of(c.name) in old
        ]

    def added(self) -> list[Column]:
        """Return the new columns that have no old counterpart."""
        old = set(self.old.column_names)
        return [c for c in self.new.columns if self.old_name_of(c.name) not in old]

    def removed(self) -> list[Column]:
        """Return the old columns that have no new counterpart."""
        kept = {self.old_name_of(c.name) for c in self.new.columns}
        return [c for c in self.old.columns if c.name not in kept]

    def translate(self, columns: tuple[str, ...]) -> tuple[str, ...]:
        """Return old column names as they are called after the change."""
        back = {old: new for new, old in self.renames.items()}
        return tuple(back.get(c, c) for c in columns)

    def translate_index(self, index: TableIndex) -> TableIndex:
        """Return an old index with its columns as they are called after the change."""
        return replace(
            index,
            columns=self.translate(index.columns),
            include=self.translate(index.include),
        )


def first_value(row: Any) -> Any:
    """Return the first value of a result row (a tuple, a record, or a MySQL client's dict)."""
    if isinstance(row, dict):
        return next(iter(row.values()))
    return row[0]


class NullsLeft(StateError):
    """Rows hold NULL in a column that is about to become NOT NULL."""


@dataclass(frozen=True)
class NullCheck:
    """Stop before a column becomes NOT NULL while rows still hold NULL in it, naming the table,
    the column and how many rows (inside the migration's transaction: nothing is kept)."""

    sql: str
    table: str
    column: str

    def __str__(self) -> str:
        return self.sql

    async def run(self, conn: Any, connection_for: Any = None) -> None:
        """Count the NULLs; raise NullsLeft when there are any."""
        _, rows = await conn.execute_query(self.sql)
        count = int(first_value(rows[0])) if rows else 0
        if count:
            raise NullsLeft(
                f'table "{self.table}" has {count} row{"s" if count > 1 else ""} with NULL in '
                f'column "{self.column}", which becomes NOT NULL; fill them first (a RunPython '
                "before this operation, or a one-off value: answer 1 in makemigrations)"
            )


def matched(old: list[Any], new: list[Any], key: Any) -> tuple[list[Any], list[Any], list[Any]]:
    """Pair items by ``key``: return (removed, added, [(old, new) pairs])."""
    new_by_key = {key(item): item for item in new}
    old_keys = {key(item) for item in old}
    pairs = [(item, new_by_key[key(item)]) for item in old if key(item) in new_by_key]
    removed = [item for item in old if key(item) not in new_by_key]
    added = [item for item in new if key(item) not in old_keys]
    return removed, added, pairs
