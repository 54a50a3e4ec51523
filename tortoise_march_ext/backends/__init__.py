"""Backends: one schema editor per database dialect. All SQL lives in this package."""

from __future__ import annotations

from .base import RECORDER_TABLE, SchemaEditor
from .changes import TableChange
from .mysql import MySQLEditor
from .postgres import PostgresEditor
from .sqlite import SqliteEditor

EDITORS: dict[str, type[SchemaEditor]] = {
    "mysql": MySQLEditor,
    "postgres": PostgresEditor,
    "sqlite": SqliteEditor,
}

__all__ = [
    "EDITORS",
    "MySQLEditor",
    "RECORDER_TABLE",
    "PostgresEditor",
    "SchemaEditor",
    "SqliteEditor",
    "TableChange",
    "editor_for",
]


def editor_for(dialect: str) -> SchemaEditor:
    """Return the schema editor of ``dialect`` (a Tortoise client's ``capabilities.dialect``)."""
    try:
        return EDITORS[dialect]()
    except KeyError:
        from ..exceptions import DatabaseError

        raise DatabaseError(
            f"database dialect {dialect!r} is not supported yet; "
            "use PostgreSQL, MySQL/MariaDB or SQLite"
        ) from None
