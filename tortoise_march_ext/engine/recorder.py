"""The recorder: which migrations ran, in ``tortoise_march_migrations`` on each connection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..backends.base import SchemaEditor
from ..exceptions import DatabaseError

Key = tuple[str, str]


@dataclass(frozen=True)
class AppliedRow:
    """One recorder row."""

    app: str
    name: str
    checksum: str
    applied_at: Any


class Recorder:
    """Read and write the recorder table through one Tortoise client."""

    def __init__(self, client: Any, editor: SchemaEditor, label: str = "default") -> None:
        self.client = client
        self.editor = editor
        self.label = label

    async def _query(self, sql: str, values: list[Any] | None = None) -> list[Any]:
        try:
            _, rows = await self.client.execute_query(sql, values or [])
        except Exception as exc:
            raise unreachable(self.label, exc) from exc
        return list(rows)

    async def exists(self) -> bool:
        """Return whether the recorder table exists."""
        sql, values = self.editor.recorder_exists()
        return bool(await self._query(sql, values))

    async def ensure(self) -> None:
        """Create the recorder table if it is missing."""
        try:
            await self.client.execute_script(self.editor.recorder_create())
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
