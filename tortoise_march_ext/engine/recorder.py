"""The recorder: which migrations ran, in ``tortoise_march_migrations`` on each connection.

On backends without transactional DDL it also keeps the started marks of migrations in
``tortoise_march_progress`` (see :mod:`tortoise_march_ext.backends.progress`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backends import progress
from ..backends.base import RECORDER_COLUMNS, RECORDER_TABLE, SchemaEditor
from ..exceptions import DatabaseError

Key = tuple[str, str]


@dataclass(frozen=True)
class AppliedRow:
    """One recorder row."""

    app: str
    name: str
    checksum: str
    applied_at: Any


@dataclass(frozen=True)
class Mark:
    """A migration that began on a backend without transactional DDL and is not finished:
    ``statements_done`` of its ``statements_total`` statements ran."""

    app: str
    name: str
    direction: str
    statements_total: int
    statements_done: int
    started_at: Any

    @property
    def key(self) -> Key:
        """Return ``(app, name)``."""
        return (self.app, self.name)

    @property
    def backwards(self) -> bool:
        """Return whether the migration was being unapplied."""
        return self.direction == progress.BACKWARDS


class Recorder:
    """Read and write the recorder table through one Tortoise client."""

    def __init__(self, client: Any, editor: SchemaEditor, label: str = "default") -> None:
        self.client = client
        self.editor = editor
        self.label = label

    async def _query(self, sql: str, values: list[Any] | None = None) -> list[Any]:
        try:
            await self.editor.connect(self.client)
            _, rows = await self.client.execute_query(sql, values or [])
        except Exception as exc:
            raise unreachable(self.label, exc) from exc
        return list(rows)

    async def exists(self) -> bool:
        """Return whether the recorder table exists; raise DatabaseError when something else
        (a view, a table with other columns) has its name."""
        sql, values = self.editor.recorder_describe()
        rows = await self._query(sql, values)
        if not rows:
            return False
        kind = self.editor.relation_kind(str(rows[0]["kind"]))
        columns = [str(r["col"]) for r in rows if r["col"] is not None]
        self._check_shape(kind, columns)
        return True

    def _check_shape(self, kind: str, columns: list[str]) -> None:
        where = f"{RECORDER_TABLE} on connection {self.label!r}"
        advice = (
            "it is not tortoise_march_ext's recorder (or was changed by hand): rename or drop it, "
            "or put the app on another database; nothing was changed"
        )
        if kind != "table":
            raise DatabaseError(f"{where} is a {kind}, not the recorder table; {advice}")
        if sorted(columns) != sorted(RECORDER_COLUMNS):
            raise DatabaseError(
                f"table {where} has the columns {', '.join(columns) or '(none)'}; the recorder "
                f"has the columns {', '.join(RECORDER_COLUMNS)}: {advice}"
            )

    async def ensure(self, conn: Any) -> None:
        """Create the recorder table if it is missing, through ``conn``: inside the first
        migration's transaction, so that a failing first migration leaves no recorder.

        Without transactional DDL the table is looked up first: MySQL warns about
        ``CREATE TABLE IF NOT EXISTS`` on an existing table, and its driver prints the warning.
        """
        if not self.editor.transactional_ddl and await self.exists():
            return
        try:
            await conn.execute_query(self.editor.recorder_create())
        except Exception as exc:
            raise unreachable(self.label, exc) from exc

    async def applied(self) -> dict[Key, AppliedRow]:
        """Return every recorded migration (empty when the table does not exist)."""
        if not await self.exists():
            return {}
        rows = await self._query(self.editor.recorder_select())
        return {
            (r["app"], r["name"]): AppliedRow(r["app"], r["name"], r["checksum"], r["applied_at"])
            for r in rows
        }

    async def record(self, conn: Any, key: Key, checksum: str) -> None:
        """Insert the row of an applied migration through ``conn`` (inside its transaction)."""
        await conn.execute_query(self.editor.recorder_insert(), [key[0], key[1], checksum])

    async def unrecord(self, conn: Any, key: Key) -> None:
        """Delete the row of an unapplied migration through ``conn``."""
        await conn.execute_query(self.editor.recorder_delete(), [key[0], key[1]])

    # -- started marks (backends without transactional DDL) -------------------------------------
    async def marks(self) -> list[Mark]:
        """Return the migrations marked as started and not finished; always empty where DDL is
        transactional (no query is made there)."""
        if self.editor.transactional_ddl:
            return []
        sql, values = progress.exists(self.editor)
        if not await self._query(sql, values):
            return []
        rows = await self._query(progress.select(self.editor))
        return [
            Mark(
                str(r["app"]),
                str(r["name"]),
                str(r["direction"]),
                int(r["statements_total"]),
                int(r["statements_done"]),
                r["started_at"],
            )
            for r in rows
        ]

    async def start(self, conn: Any, key: Key, total: int, *, backwards: bool) -> None:
        """Create the progress table if needed and mark ``key`` as started (nothing done)."""
        direction = progress.BACKWARDS if backwards else progress.FORWARDS
        sql, values = progress.exists(self.editor)
        if not await self._query(sql, values):
            try:
                await conn.execute_query(progress.create(self.editor))
            except Exception as exc:
                raise unreachable(self.label, exc) from exc
        await conn.execute_query(progress.insert(self.editor), [key[0], key[1], direction, total])

    async def advance(self, conn: Any, key: Key, done: int) -> None:
        """Note that the first ``done`` statements of ``key`` ran."""
        await conn.execute_query(progress.update(self.editor), [done, key[0], key[1]])

    async def clear(self, conn: Any, key: Key) -> int:
        """Delete the mark of ``key``; return how many rows went (0 or 1)."""
        count, _ = await conn.execute_query(progress.delete(self.editor), [key[0], key[1]])
        return int(count or 0)

    async def rewrite_checksums(self, rows: dict[Key, tuple[str, str]]) -> int:
        """Replace each row's checksum ``old`` by ``new`` (``{key: (old, new)}``) where it still
        reads ``old``; return how many rows changed."""
        changed = 0
        for (app, name), (old, new) in sorted(rows.items()):
            try:
                count, _ = await self.client.execute_query(
                    self.editor.recorder_rewrite_checksum(), [new, app, name, old]
                )
            except Exception as exc:
                raise unreachable(self.label, exc) from exc
            changed += int(count or 0)
        return changed


def unreachable(label: str, exc: BaseException) -> DatabaseError:
    """Return the error for a database that cannot be used."""
    return DatabaseError(
        f"cannot use database connection {label!r}: {type(exc).__name__}: {exc}; check that the "
        "server is running and the connection settings in the Tortoise config"
    )
