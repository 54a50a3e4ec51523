"""Filling a column row by row with a callable default (``default=uuid.uuid4``).

A one-off value fills every row with one SQL literal; a callable must be called once per row
(``uuid4`` on a unique column needs a value each). :class:`RowFill` is the statement the executor
awaits: it selects the primary keys of the rows whose column is NULL, calls the function per row
and writes the values back in batches, as parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..schema.state import CallableRef
from ..schema.tables import Table
from .changes import first_value

if TYPE_CHECKING:
    from .base import SchemaEditor

BATCH_SIZE = 500


@dataclass(frozen=True)
class RowFill:
    """Give each row whose ``column`` is NULL its own value from one call of ``ref``."""

    select_sql: str
    update_sql: str
    table: str
    column: str
    ref: CallableRef
    convert: Callable[[Any], Any]
    batch_size: int = BATCH_SIZE

    def __str__(self) -> str:
        return (
            f"-- fill {self.table}.{self.column} with {self.ref.path}(), one call per row "
            f"(Python): {self.select_sql} then, per row, {self.update_sql};"
        )

    async def run(self, conn: Any, connection_for: Any = None) -> None:
        """Call the function once per row and write the values in batches."""
        function = self.ref.resolve()
        _, rows = await conn.execute_query(self.select_sql)
        keys = [first_value(row) for row in rows]
        for start in range(0, len(keys), self.batch_size):
            batch = keys[start : start + self.batch_size]
            await conn.execute_many(self.update_sql, [[self.convert(function()), k] for k in batch])


def row_fill(editor: SchemaEditor, table: Table, column: str, ref: CallableRef) -> RowFill:
    """Return the row-by-row fill of ``table.column`` (which must be nullable while it runs)."""
    pk = next(c.name for c in table.columns if c.primary_key)
    kind = next(c.kind for c in table.columns if c.name == column)
    t, c, p = editor.quote(table.name), editor.quote(column), editor.quote(pk)
    value, key = editor.placeholders(2)
    return RowFill(
        select_sql=f"SELECT {p} FROM {t} WHERE {c} IS NULL ORDER BY {p}",
        update_sql=f"UPDATE {t} SET {c} = {value} WHERE {p} = {key}",
        table=table.name,
        column=column,
        ref=ref,
        convert=lambda v: editor.param_value(v, kind),
    )
