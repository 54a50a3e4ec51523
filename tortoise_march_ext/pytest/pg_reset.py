"""PostgreSQL: bring the migrated work database back to its state after migration, fast.

``CREATE DATABASE ... TEMPLATE`` writes the whole template (its catalog too, several MB) and
syncs it; on a busy machine that is hundreds of milliseconds per test. Resetting costs a few:
one query finds the tables that have rows, the rows are deleted (tables that reference others
first) in one transaction, the rows the migrations left are put back, and the sequences that
moved are set back to where they were. Schema changes a test makes itself are not undone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..backends import editor_for

RECORDER_TABLES = ("tortoise_march_migrations", "tortoise_march_progress")


def children_first(tables: list[str], edges: list[tuple[str, str]]) -> list[str] | None:
    """Return ``tables`` ordered so a table comes before the tables it references; None when
    foreign keys make a cycle (self-references aside)."""
    parents = {t: {p for c, p in edges if c == t and p != t and p in tables} for t in tables}
    order: list[str] = []
    left = set(tables)
    while left:
        free = sorted(t for t in left if not any(t in parents[o] for o in left if o != t))
        if not free:
            return None
        order += free
        left -= set(free)
    return order


@dataclass
class PgReset:
    """The snapshot of a migrated database and the reset back to it, on one connection."""

    conn: Any
    tables: list[str] = field(default_factory=list)
    order: list[str] | None = None
    sequences: dict[str, tuple[Any, bool, int]] = field(default_factory=dict)
    seeds: dict[str, tuple[list[str], list[Any]]] = field(default_factory=dict)

    @property
    def q(self) -> Any:
        """Return the editor's identifier quoting function."""
        return editor_for("postgres").quote

    async def _with_rows(self) -> set[str]:
        if not self.tables:
            return set()
        literal = editor_for("postgres").literal
        probe = " UNION ALL ".join(
            f"(SELECT {literal(t)} FROM {self.q(t)} LIMIT 1)" for t in self.tables
        )
        return {str(r[0]) for r in await self.conn.fetch(probe)}

    async def _sequences(self) -> dict[str, tuple[Any, bool, int]]:
        rows = await self.conn.fetch(
            "SELECT s.sequencename, s.last_value, s.start_value FROM pg_sequences s "
            "WHERE s.schemaname = current_schema()"
        )
        out = {}
        for name, last, start in rows:
            out[f"{self.q(str(name))}"] = (last, last is not None, int(start))
        return out

    async def snapshot(self) -> None:
        """Remember the tables, their foreign keys, the sequences and the rows now there."""
        rows = await self.conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
        self.tables = sorted(str(r[0]) for r in rows if r[0] not in RECORDER_TABLES)
        edges = await self.conn.fetch(
            "SELECT a.relname, b.relname FROM pg_constraint c "
            "JOIN pg_class a ON a.oid = c.conrelid JOIN pg_class b ON b.oid = c.confrelid "
            "JOIN pg_namespace n ON n.oid = a.relnamespace "
            "WHERE c.contype = 'f' AND n.nspname = current_schema()"
        )
        self.order = children_first(self.tables, [(str(a), str(b)) for a, b in edges])
        self.sequences = await self._sequences()
        for table in sorted(await self._with_rows()):
            records = await self.conn.fetch(f"SELECT * FROM {self.q(table)}")
            self.seeds[table] = (list(records[0].keys()), [tuple(r) for r in records])

    async def reset(self) -> None:
        """Delete what the test left, put back the migrations' rows, rewind the sequences."""
        touched = await self._with_rows() | set(self.seeds)
        now = await self._sequences()
        moved = {name: was for name, was in self.sequences.items() if now.get(name) != was}
        if not touched and not moved:
            return
        async with self.conn.transaction():
            if self.order is None:
                names = ", ".join(self.q(t) for t in sorted(touched))
                await self.conn.execute(f"TRUNCATE {names} CASCADE")
            else:
                for table in (t for t in self.order if t in touched):
                    await self.conn.execute(f"DELETE FROM {self.q(table)}")
            for table in reversed(self.order or sorted(self.seeds)):
                if table in self.seeds:
                    columns, records = self.seeds[table]
                    await self.conn.copy_records_to_table(table, records=records, columns=columns)
            for name, (last, called, start) in moved.items():
                value = last if called else start
                await self.conn.execute("SELECT setval($1::regclass, $2, $3)", name, value, called)
