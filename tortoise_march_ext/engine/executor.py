"""The executor: plan, then apply or unapply migrations one transaction each.

Effects nest in a fixed order: connection setup -> transaction -> statements -> recorder row.
SQL is generated before anything runs, so ``--sql`` prints exactly what would run and an
irreversible step stops a backward plan before any change.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from ..backends.base import SchemaEditor
from ..exceptions import DatabaseError, GraphError, MigrationFailed
from ..files.loader import LoadedMigration
from ..operations import CreateModel, Operation
from ..schema.state import ProjectState
from ..schema.tables import model_tables
from .graph import MigrationGraph
from .recorder import Recorder
from .steps import Progress as Progress
from .steps import Step as Step

Key = tuple[str, str]
StepHook = Callable[["Step"], Awaitable[None]]


FAKE_INITIAL_FIX = (
    "`python -m tortoise_march_ext migrate --fake-initial` (it compares the tables first)"
)


def generated_tables(
    connection: str, existing: list[str], creators: dict[str, Step]
) -> DatabaseError:
    """Return the error for tables that exist before the migrations that create them ran."""
    first = (creators.get(existing[0]) or next(iter(creators.values()))).migration
    return DatabaseError(
        f"database connection {connection!r} already has the table(s) {', '.join(existing)} "
        f"that migration {first} creates, and no migration is recorded on it (tables made by "
        "Tortoise.generate_schemas()?): drop generate_schemas=True (RegisterTortoise, "
        "register_tortoise) or the Tortoise.generate_schemas() call and let the migrations "
        "build the schema; for an existing database built another way, whose tables match the "
        "migrations, record the initial migrations without running them: "
        f"{FAKE_INITIAL_FIX}; nothing was changed"
    )


def _initial_already_exists(step: Step, exc: Exception) -> bool:
    """Return whether an app's first migration failed on something that already exists."""
    node = step.migration
    initial = not any(app == node.app for app, _ in node.dependencies)
    return initial and not step.backwards and "already exists" in str(exc)


def _what_was_kept(step: Step, done: int) -> tuple[str, str]:
    """Return what a failed statement leaves of ``step`` and the usual fix."""
    fix = "fix it and run migrate again"
    if not step.transactional and done:
        app, name = step.key
        return (
            f"the {done} statement(s) before it ran and stay (no transactional DDL), and the "
            "migration is marked as stopped half-way",
            f"complete or undo them by hand, then run migrate {app} {name} --resolve "
            "applied (or unapplied)",
        )
    if not step.transactional or step.atomic:
        return "nothing of this migration was kept", fix
    return "the statements before it were kept (the migration is not atomic)", fix


def one_line(text: str, limit: int = 500) -> str:
    """Return ``text`` on one line, shortened to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def replay(graph: MigrationGraph, keys: Iterable[Key]) -> ProjectState:
    """Return the state the given migrations build, applied in dependency order."""
    wanted = set(keys)
    state = ProjectState()
    for key in graph.topological():
        if key in wanted:
            node: LoadedMigration = graph.nodes[key]
            for operation in node.operations:
                operation.state_forwards(key[0], state)
    return state


def forwards_plan(graph: MigrationGraph, targets: list[Key], applied: set[Key]) -> list[Key]:
    """Return the unapplied ancestors of ``targets`` (included), parents first."""
    return [k for k in graph.topological(targets) if k not in applied]


def backwards_plan(
    graph: MigrationGraph, app: str, target: Key | None, applied: set[Key]
) -> list[Key]:
    """Return the applied migrations to unapply so that ``app`` stands at ``target``."""
    if target is None:
        roots = [k for k in graph.nodes if k[0] == app]
    else:
        roots = [c for c in graph.children[target] if c[0] == app]
    doomed = {d for root in roots for d in graph.descendants(root) if d in applied}
    return [k for k in reversed(graph.topological()) if k in doomed]


@dataclass(frozen=True)
class Timeouts:
    """Lock and statement timeouts for migrations (PostgreSQL durations such as ``"2s"``), and
    how often a migration whose lock timeout fired is tried again."""

    lock_timeout: str | None = None
    statement_timeout: str | None = None
    lock_retries: int = 3

    def for_migration(self, node: LoadedMigration) -> Timeouts:
        """Return these settings with the migration's own overrides applied."""
        retries = node.setting("lock_retries")
        return Timeouts(
            node.setting("lock_timeout") or self.lock_timeout,
            node.setting("statement_timeout") or self.statement_timeout,
            self.lock_retries if retries is None else retries,
        )

    @property
    def any(self) -> bool:
        """Return whether a timeout is set."""
        return bool(self.lock_timeout or self.statement_timeout)


logger = logging.getLogger("tortoise_march_ext")


class Executor:
    """Turn a plan into statements and run them on each app's connection."""

    def __init__(
        self,
        graph: MigrationGraph,
        editor_for: Callable[[str], SchemaEditor],
        client_for: Callable[[str], Any] | None = None,
        recorder_for: Callable[[str], Recorder] | None = None,
        connection_for: Callable[[str], str] = lambda app: "default",
        timeouts: Timeouts | None = None,
    ) -> None:
        self.graph = graph
        self.editor_for = editor_for
        self.client_for = client_for
        self.recorder_for = recorder_for
        self.connection_for = connection_for
        self.timeouts = timeouts or Timeouts()
        self.progress = Progress()

    def build_steps(self, keys: list[Key], applied: set[Key], *, backwards: bool) -> list[Step]:
        """Return the steps of a plan with their statements, checking reversibility first."""
        order = self.graph.topological()
        steps = []
        if not backwards:
            state = replay(self.graph, applied)
            for key in keys:
                steps.append(self._forward_step(self.graph.nodes[key], state))
            return steps
        doomed = set(keys)
        before: dict[Key, ProjectState] = {}
        state = ProjectState()
        for key in order:
            if key in applied:
                if key in doomed:
                    before[key] = state.clone()
                for operation in self.graph.nodes[key].operations:
                    operation.state_forwards(key[0], state)
        for key in keys:
            self._check_reversible(self.graph.nodes[key])
        return [self._backward_step(self.graph.nodes[k], before[k]) for k in keys]

    def _forward_step(self, node: LoadedMigration, state: ProjectState) -> Step:
        editor = self.editor_for(node.app)
        step = Step(node, False, transactional=editor.transactional_ddl, dialect=editor.dialect)
        for operation in node.operations:
            previous = state.clone()
            operation.state_forwards(node.app, state)
            step.statements.append(
                (operation, operation.database_forwards(node.app, editor, previous, state))
            )
            if isinstance(operation, CreateModel):
                model = state.get_model(node.app, operation.name)
                step.creates += [table.name for table in model_tables(state, model)]
        return step

    def _check_reversible(self, node: LoadedMigration) -> None:
        for operation in node.operations:
            if not operation.reversible:
                raise GraphError(
                    f"migration {node} ({node.path}) cannot be unapplied: operation "
                    f"'{operation.describe()}' is irreversible; nothing was changed"
                )

    def _backward_step(self, node: LoadedMigration, state: ProjectState) -> Step:
        editor = self.editor_for(node.app)
        step = Step(node, True, transactional=editor.transactional_ddl, dialect=editor.dialect)
        pairs = []
        for operation in node.operations:
            after = state.clone()
            operation.state_forwards(node.app, after)
            pairs.append((operation, state, after))
            state = after
        for operation, before, after in reversed(pairs):
            step.statements.append(
                (operation, operation.database_backwards(node.app, editor, before, after))
            )
        return step

    async def run(
        self,
        steps: list[Step],
        *,
        fake: bool = False,
        before: StepHook | None = None,
        after: StepHook | None = None,
        progress: Progress | None = None,
    ) -> None:
        """Apply or unapply each step in its own transaction, recording it in the same one.

        ``before``/``after`` are awaited around each step, outside its transaction. A step that
        is not atomic (``Migration.atomic = False`` or an operation with ``atomic=False``) runs
        statement by statement without a transaction; only its recorder row is transactional.
        When the lock timeout fires, the step (a non-atomic step: the statement) is tried
        again up to ``lock_retries`` times, waiting a little longer each time. ``progress``
        is kept up to date, so that an interruption can say what it left.
        """
        self.progress = progress if progress is not None else Progress()
        self.progress.fake = fake
        assert self.client_for is not None and self.recorder_for is not None
        if not fake:
            await self._refuse_existing_tables(steps)
        ensured: set[int] = set()
        for step in steps:
            if before is not None:
                await before(step)
            timeouts = self.timeouts.for_migration(step.migration)
            self.progress.start(step)
            if not fake and not step.transactional:
                from .marked import run_marked

                await run_marked(self, step, timeouts)
            else:
                if not fake and not step.atomic:
                    await self._execute_outside(step, timeouts)
                commit = functools.partial(self._commit, step, fake, timeouts, ensured)
                await self._retrying(step, timeouts, commit)
            self.progress.finish()
            if after is not None:
                await after(step)

    async def _refuse_existing_tables(self, steps: list[Step]) -> None:
        """Raise DatabaseError when a connection that recorded no migration already has tables
        the plan creates: ``Tortoise.generate_schemas()`` made them (``generate_schemas=True``)."""
        assert self.client_for is not None and self.recorder_for is not None
        creators: dict[str, dict[str, Step]] = {}
        for step in steps:
            if not step.backwards:
                tables = creators.setdefault(self.connection_for(step.migration.app), {})
                for table in step.creates:
                    tables.setdefault(table, step)
        for connection, tables in sorted(creators.items()):
            if not tables:
                continue
            first = next(iter(tables.values())).migration
            if await self.recorder_for(first.app).applied():
                continue
            sql, values = self.editor_for(first.app).existing_tables(sorted(tables))
            _, rows = await self.client_for(first.app).execute_query(sql, values)
            if rows:
                raise generated_tables(connection, [r["name"] for r in rows], tables)

    async def _commit(self, step: Step, fake: bool, timeouts: Timeouts, ensured: set[int]) -> None:
        """Run an atomic step and its recorder row in one transaction; the first step on a
        connection also creates the recorder in it (``ensured``: recorders known to exist)."""
        app = step.migration.app
        assert self.client_for is not None and self.recorder_for is not None
        client, recorder, editor = (
            self.client_for(app),
            self.recorder_for(app),
            self.editor_for(app),
        )
        async with self._transaction(client, editor) as conn:
            if id(recorder) not in ensured:
                await recorder.ensure(conn)
            if not fake and step.atomic:
                settings = editor.session_settings(
                    timeouts.lock_timeout, timeouts.statement_timeout, local=True
                )
                for sql in settings:
                    await self._statement(conn, editor, sql)
                await self._execute(conn, step)
            # A squash is recorded with the migrations it replaces, so that the database
            # reads the same whether the old files are kept or deleted.
            for key in (step.key, *step.migration.replaces):
                if step.backwards:
                    await recorder.unrecord(conn, key)
                else:
                    await recorder.record(conn, key, step.migration.checksum)
        ensured.add(id(recorder))

    async def _execute_outside(self, step: Step, timeouts: Timeouts) -> None:
        """Run a non-atomic step's statements one by one, each retried on a lock timeout."""
        assert self.client_for is not None
        client, editor = self.client_for(step.migration.app), self.editor_for(step.migration.app)
        if not timeouts.any:
            await self._execute(client, step)
            return
        async with editor.pinned(client) as conn:
            try:
                for sql in editor.session_settings(
                    timeouts.lock_timeout, timeouts.statement_timeout, local=False
                ):
                    await self._statement(conn, editor, sql)
                await self._execute(conn, step, timeouts)
            finally:
                with anyio.CancelScope(shield=True):
                    for sql in editor.reset_settings():
                        await self._statement(conn, editor, sql)

    async def _retrying(
        self, step: Step, timeouts: Timeouts, attempt: Callable[[], Awaitable[None]]
    ) -> None:
        editor = self.editor_for(step.migration.app)
        for number in range(timeouts.lock_retries + 1):
            try:
                await attempt()
                return
            except MigrationFailed as exc:
                if number == timeouts.lock_retries or not editor.is_lock_timeout(exc):
                    raise
                wait = min(0.5 * 2**number, 10.0)
                logger.warning(
                    "%s: lock timeout (%s) fired; trying again in %.1fs (%d of %d)",
                    step.describe(),
                    timeouts.lock_timeout,
                    wait,
                    number + 1,
                    timeouts.lock_retries,
                )
                await anyio.sleep(wait)

    async def _execute(self, conn: Any, step: Step, timeouts: Timeouts | None = None) -> None:
        editor = self.editor_for(step.migration.app)
        for operation, statements in step.statements:
            for sql in statements:
                if timeouts is None:
                    await self._run_one(conn, editor, step, operation, sql)
                else:
                    run = functools.partial(self._run_one, conn, editor, step, operation, sql)
                    await self._retrying(step, timeouts, run)
        if editor.fk_check_sql:
            _, rows = await conn.execute_query(editor.fk_check_sql)
            if rows:
                raise MigrationFailed(
                    f"{step.describe().lower()} would leave rows whose foreign keys point "
                    f"nowhere (first: {tuple(rows[0])}); nothing of this migration was kept",
                    migration=str(step.migration),
                )

    async def _run_one(
        self, conn: Any, editor: SchemaEditor, step: Step, operation: Operation, sql: Any
    ) -> None:
        started = time.perf_counter()
        try:
            await self._statement(conn, editor, sql)
            if not step.atomic and step.transactional:
                self.progress.statements_done += 1
        except Exception as exc:
            kept, fix = _what_was_kept(step, self.progress.statements_done)
            if _initial_already_exists(step, exc) and (
                step.transactional or not self.progress.statements_done
            ):
                fix = (
                    "the database was built another way (generate_schemas(), another tool, by "
                    f"hand); if its tables match the migrations, run {FAKE_INITIAL_FIX}"
                )
            raise MigrationFailed(
                f"{step.describe().lower()} failed at '{operation.describe()}': "
                f"{type(exc).__name__}: {one_line(str(exc))} "
                f"(statement: {one_line(str(sql), 300)}); {kept}: {fix}",
                migration=str(step.migration),
                statement=sql,
            ) from exc
        self.progress.statement_done(operation, sql, time.perf_counter() - started)

    async def _statement(self, conn: Any, editor: SchemaEditor, sql: Any) -> None:
        if not isinstance(sql, str):
            await sql.run(conn, self.connection_for)
            return
        if editor.scripts_keep_transaction:
            await conn.execute_script(sql)
            return
        for statement in editor.split_statements(sql):
            await conn.execute_query(statement)

    @asynccontextmanager
    async def _transaction(self, client: Any, editor: SchemaEditor) -> AsyncIterator[Any]:
        """Run the body in one transaction; its end is shielded from cancellation.

        Tortoise's transaction context must always finish its ``__aexit__`` (rollback or commit,
        returning the connection, resetting its context variable): a cancellation landing in
        the middle of it would leave the application's connection unusable.
        """
        if editor.fk_off_sql:
            with anyio.CancelScope(shield=True):
                await client.execute_script(editor.fk_off_sql)
        try:
            context = client._in_transaction()
            with anyio.CancelScope(shield=True):
                conn = await context.__aenter__()
            try:
                yield conn
            except BaseException as exc:
                with anyio.CancelScope(shield=True):
                    await context.__aexit__(type(exc), exc, exc.__traceback__)
                raise
            with anyio.CancelScope(shield=True):
                await context.__aexit__(None, None, None)
        finally:
            if editor.fk_on_sql:
                with anyio.CancelScope(shield=True):
                    await client.execute_script(editor.fk_on_sql)
