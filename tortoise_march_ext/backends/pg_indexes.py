"""PostgreSQL statements that build an index CONCURRENTLY so that a rerun can get past a build
that was interrupted.

CREATE INDEX CONCURRENTLY runs outside a transaction, and the server session goes on when its
client dies (it notices only when it next talks to it). A ``migrate`` killed during the build
therefore leaves no recorder row and, by the time it runs again, an index that is finished
(VALID), still being built, or INVALID (the build failed or was cancelled). Before building,
:class:`ConcurrentIndex` looks at the index of that name in the table's schema:

- none: build it;
- being built by another session (``pg_stat_progress_create_index``): wait for that build,
  bounded by the session's ``lock_timeout`` (else :data:`BUILD_WAIT` seconds), then look again;
  past the bound, fail naming the session and how to stop it;
- INVALID: drop it and build;
- VALID and the very index this step builds (compared in the catalog with the same index built
  on an empty copy of the table): keep it and go on;
- anything else (another definition, another table, not an index): fail, saying how to fix it,
  and change nothing.

:class:`AttachUnique` (``ADD CONSTRAINT ... UNIQUE USING INDEX``) goes on when the constraint
is already attached. Needs PostgreSQL 12 or later (the progress view).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import anyio

from ..schema.tables import TableIndex

logger = logging.getLogger("tortoise_march_ext")

BUILD_WAIT = 300.0  # seconds to wait for another session's build when lock_timeout is 0
POLL = 0.25
PROBE_TABLE = "tortoise_march_index_probe"

# The relation called $2 in the schema of table $1, and who is building it right now.
LOOKUP = """
SELECT c.oid, c.relkind IN ('i', 'I') AS is_index, coalesce(i.indisvalid, false) AS valid,
       coalesce(i.indrelid = t.oid, false) AS same_table,
       CASE WHEN i.indexrelid IS NOT NULL THEN pg_get_indexdef(c.oid) END AS definition,
       p.pid AS builder, p.phase
FROM pg_class t
JOIN pg_class c ON c.relnamespace = t.relnamespace AND c.relname = $2
LEFT JOIN pg_index i ON i.indexrelid = c.oid
LEFT JOIN pg_stat_progress_create_index p
       ON p.index_relid = c.oid AND p.pid <> pg_backend_pid()
WHERE t.oid = to_regclass($1)
LIMIT 1
"""

# What makes two indexes the same, apart from their name and table.
_SIGNATURE = """
SELECT i.indisunique, am.amname, i.indnkeyatts,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)
             FROM generate_series(1, i.indnatts) AS k ORDER BY k) AS keys,
       i.indclass::oid[] AS classes, i.indcollation::oid[] AS collations,
       i.indoption::int2[] AS options, pg_get_expr(i.indpred, i.indrelid, true) AS predicate,
       c.reloptions
FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
"""
SIGNATURE_OF_INDEX = _SIGNATURE + "WHERE i.indexrelid = $1"
SIGNATURE_ON_TABLE = _SIGNATURE + "WHERE i.indrelid = to_regclass($1)"

LOCK_TIMEOUT = "SELECT setting::float8 / 1000 AS seconds FROM pg_settings WHERE name = $1"

ATTACHED = (
    "SELECT 1 FROM pg_constraint "
    "WHERE conrelid = to_regclass($1) AND conname = $2 AND contype = 'u'"
)


def catalog_names(editor: Any, table: str, name: str) -> list[str]:
    """Return the lookup parameters of an index: the quoted table (for ``::regclass``) and the
    index name as PostgreSQL stores it (cut to 63 bytes)."""
    return [editor.quote(table), editor.stored_name(name)]


class IndexBuildInProgress(Exception):
    """Another session is still building the index after the wait.

    Carries SQLSTATE 55P03 (lock_not_available): like a lock timeout, the migration's
    ``lock_retries`` try the step again.
    """

    sqlstate = "55P03"


class IndexConflict(Exception):
    """A relation of the index's name exists and is not the index the step builds."""


@dataclass(frozen=True)
class Existing:
    """The relation that has the index's name, as :data:`LOOKUP` found it."""

    oid: int
    is_index: bool
    valid: bool
    same_table: bool
    definition: str | None
    builder: int | None
    phase: str | None


@dataclass
class ConcurrentIndex:
    """CREATE INDEX CONCURRENTLY, run outside a transaction, that gets past what an earlier
    interrupted build left (see the module docstring). A build that fails drops the INVALID
    index it leaves."""

    sql: str
    name: str
    table: str
    index: TableIndex
    editor: Any = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.sql

    @property
    def label(self) -> str:
        """Return ``index "name" on "table"``."""
        return f"index {self.editor.quote(self.name)} on {self.editor.quote(self.table)}"

    async def run(self, conn: Any, connection_for: Any = None) -> None:
        """Build the index unless it is there already; on failure drop what the build left."""
        if await self._settle(conn):
            return
        try:
            await conn.execute_script(self.sql)
        except BaseException:
            with anyio.CancelScope(shield=True):
                found = await self._lookup(conn)
                if found is not None and found.is_index and not found.valid and not found.builder:
                    await self._drop(conn)
            raise

    async def _lookup(self, conn: Any) -> Existing | None:
        _, rows = await conn.execute_query(
            LOOKUP, catalog_names(self.editor, self.table, self.name)
        )
        return Existing(**dict(rows[0])) if rows else None

    async def _settle(self, conn: Any) -> bool:
        """Deal with an index of this name; return whether it is the one wanted (kept)."""
        deadline: float | None = None
        while True:
            found = await self._lookup(conn)
            if found is None:
                return False
            if found.builder is not None:
                deadline = await self._wait(conn, found, deadline)
                continue
            if found.is_index and not found.valid:
                logger.warning(
                    "%s is INVALID (an earlier build failed or was interrupted); "
                    "dropping it and building it again",
                    self.label,
                )
                await self._drop(conn)
                return False
            if found.is_index and found.same_table and await self._same(conn, found):
                logger.warning(
                    "%s already exists, VALID and as this migration builds it (an earlier run "
                    "was interrupted after the build); kept",
                    self.label,
                )
                return True
            raise IndexConflict(self._conflict(found))

    async def _wait(self, conn: Any, found: Existing, deadline: float | None) -> float:
        """Sleep a little while another session builds the index; return the deadline."""
        now = anyio.current_time()
        if deadline is None:
            bound = await self._bound(conn)
            deadline = now + bound
            logger.warning(
                "%s is being built by another session (pid %s, phase: %s), perhaps a migrate "
                "that was interrupted; waiting up to %gs for it to end",
                self.label,
                found.builder,
                found.phase,
                bound,
            )
        if now >= deadline:
            raise IndexBuildInProgress(
                f"{self.label} is still being built by another session (pid {found.builder}, "
                f"phase: {found.phase}): wait for that build to end and run migrate again, "
                f"or stop it with SELECT pg_cancel_backend({found.builder});"
            )
        await anyio.sleep(POLL)
        return deadline

    async def _bound(self, conn: Any) -> float:
        _, rows = await conn.execute_query(LOCK_TIMEOUT, ["lock_timeout"])
        seconds = float(rows[0]["seconds"]) if rows else 0.0
        return seconds if seconds > 0 else BUILD_WAIT

    async def _same(self, conn: Any, found: Existing) -> bool:
        """Return whether the existing index is the one this step builds: build that one on an
        empty temporary copy of the table and compare the two in the catalog."""
        probe = self.editor.quote(PROBE_TABLE)
        async with conn._in_transaction() as tx:
            await tx.execute_script(
                f"CREATE TEMPORARY TABLE {probe} (LIKE {self.editor.quote(self.table)}) "
                "ON COMMIT DROP;"
            )
            await tx.execute_script(self.editor.create_index(PROBE_TABLE, self.index))
            _, wanted = await tx.execute_query(SIGNATURE_ON_TABLE, [f"pg_temp.{probe}"])
            _, existing = await tx.execute_query(SIGNATURE_OF_INDEX, [found.oid])
        return [dict(r) for r in wanted] == [dict(r) for r in existing]

    async def _drop(self, conn: Any) -> None:
        await conn.execute_script(
            f"DROP INDEX CONCURRENTLY IF EXISTS {self.editor.quote(self.name)};"
        )

    def _conflict(self, found: Existing) -> str:
        name = self.editor.quote(self.name)
        fix = "give the migration's index another name, then run migrate again"
        if not found.is_index:
            return (
                f"a relation called {name} that is not an index already exists, so "
                f"{self.label} cannot be built: rename that relation or {fix}"
            )
        if not found.same_table:
            return (
                f"an index called {name} already exists on another table ({found.definition}), "
                f"so {self.label} cannot be built: rename that index or {fix}"
            )
        ours = " ".join(self.sql.split()).removesuffix(";")
        return (
            f"{self.label} already exists with a different definition ({found.definition}) "
            f"than this migration builds ({ours}): drop it (DROP INDEX CONCURRENTLY {name};) "
            f"or {fix}"
        )


@dataclass
class AttachUnique:
    """``ADD CONSTRAINT name UNIQUE USING INDEX name``; goes on when a unique constraint of
    that name is already on the table (an earlier run was interrupted after attaching it)."""

    sql: str
    table: str
    name: str
    editor: Any = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.sql

    async def run(self, conn: Any, connection_for: Any = None) -> None:
        """Attach the index as a unique constraint unless it is attached already."""
        _, rows = await conn.execute_query(
            ATTACHED, catalog_names(self.editor, self.table, self.name)
        )
        if rows:
            logger.warning(
                "unique constraint %s on %s is already attached; kept",
                self.editor.quote(self.name),
                self.editor.quote(self.table),
            )
            return
        await conn.execute_script(self.sql)
