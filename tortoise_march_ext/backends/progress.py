"""The SQL of ``tortoise_march_progress``: the started mark of migrations on backends without
transactional DDL (MySQL/MariaDB).

A row says a migration began and how many of its statements ran; it is deleted in the same
transaction that writes (or deletes) the migration's recorder row. A row that stays means the
migration stopped half-way. The recorder table keeps its contract: a row there means applied.
Everything goes through the editor's quoting and placeholders.
"""

from __future__ import annotations

from typing import Any

from .base import SchemaEditor

PROGRESS_TABLE = "tortoise_march_progress"
PROGRESS_COLUMNS = (
    "app",
    "name",
    "direction",
    "statements_total",
    "statements_done",
    "started_at",
)
FORWARDS, BACKWARDS = "forwards", "backwards"


def create(editor: SchemaEditor) -> str:
    """Return CREATE TABLE IF NOT EXISTS for the progress table (standard SQL types)."""
    q = editor.quote
    return (
        f"CREATE TABLE IF NOT EXISTS {q(PROGRESS_TABLE)} ("
        f"{q('app')} VARCHAR(100) NOT NULL, {q('name')} VARCHAR(255) NOT NULL, "
        f"{q('direction')} VARCHAR(9) NOT NULL, {q('statements_total')} INT NOT NULL, "
        f"{q('statements_done')} INT NOT NULL, "
        f"{q('started_at')} TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
        f"PRIMARY KEY ({q('app')}, {q('name')}))"
    )


def exists(editor: SchemaEditor) -> tuple[str, list[Any]]:
    """Return the query that finds the progress table (a row when it exists)."""
    return editor.existing_tables([PROGRESS_TABLE])


def select(editor: SchemaEditor) -> str:
    """Return the SELECT of every mark."""
    return (
        f"SELECT {editor.columns(PROGRESS_COLUMNS)} FROM {editor.quote(PROGRESS_TABLE)} "
        f"ORDER BY {editor.quote('started_at')}, {editor.quote('app')}, {editor.quote('name')}"
    )


def insert(editor: SchemaEditor) -> str:
    """Return the parametrised INSERT of a mark (app, name, direction, total); 0 done."""
    marks = ", ".join(editor.placeholders(4))
    columns = editor.columns(("app", "name", "direction", "statements_total", "statements_done"))
    return f"INSERT INTO {editor.quote(PROGRESS_TABLE)} ({columns}) VALUES ({marks}, 0)"


def update(editor: SchemaEditor) -> str:
    """Return the parametrised UPDATE of how many statements ran (done, app, name)."""
    done, a, n = editor.placeholders(3)
    q = editor.quote
    return (
        f"UPDATE {q(PROGRESS_TABLE)} SET {q('statements_done')} = {done} "
        f"WHERE {q('app')} = {a} AND {q('name')} = {n}"
    )


def delete(editor: SchemaEditor) -> str:
    """Return the parametrised DELETE of a mark (app, name)."""
    a, n = editor.placeholders(2)
    q = editor.quote
    return f"DELETE FROM {q(PROGRESS_TABLE)} WHERE {q('app')} = {a} AND {q('name')} = {n}"
