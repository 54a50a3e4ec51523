"""Running a migration on a backend without transactional DDL (MySQL/MariaDB), under a mark.

Each DDL statement commits on its own there, so a migration cannot be undone as a whole. Before
its first statement the migration is marked as started (``tortoise_march_progress``), after each
statement the mark says how many ran, and the recorder row is written (or deleted) in the same
transaction that deletes the mark. A migration that stops half-way stays marked; every later run
refuses until ``migrate APP NAME --resolve applied|unapplied`` (see :func:`half_applied`).

RunPython steps and data changes (INSERT, UPDATE, DELETE) still run in a transaction, together
with the mark that counts them, so each of them either ran and is counted or did not run.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio

from ..backends.base import SchemaEditor
from ..backends.fills import RowFill
from ..exceptions import DatabaseError, MigrationFailed
from ..operations import Operation, RunPython
from .recorder import Mark

if TYPE_CHECKING:
    from .executor import Executor, Step, Timeouts

DATA_CHANGE = re.compile(r"^\s*(?:--[^\n]*\n\s*)*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def in_transaction(step: Step, operation: Operation, sql: Any) -> bool:
    """Return whether one statement of ``step`` runs in a transaction of its own: Python code
    (RunPython, row fills by a Python callable) and data changes (INSERT, UPDATE, DELETE) do,
    unless the migration or the operation opted out with ``atomic=False``."""
    if not (step.migration.atomic and operation.atomic):
        return False
    if isinstance(operation, RunPython) or isinstance(sql, RowFill):
        return True
    return isinstance(sql, str) and bool(DATA_CHANGE.match(sql))


def flat_statements(step: Step) -> list[tuple[Operation, Any]]:
    """Return ``(operation, statement)`` for every statement of ``step``, in order."""
    return [(op, sql) for op, statements in step.statements for sql in statements]


async def run_marked(executor: Executor, step: Step, timeouts: Timeouts) -> None:
    """Run ``step`` statement by statement under a started mark, then record it and clear the
    mark in one transaction. A statement that fails before any other ran leaves nothing: the
    mark is cleared and the error raised; later, the mark stays (the migration stopped
    half-way) and the error says so."""
    app, key = step.migration.app, step.key
    assert executor.client_for is not None and executor.recorder_for is not None
    client, editor = executor.client_for(app), executor.editor_for(app)
    recorder = executor.recorder_for(app)
    statements = flat_statements(step)
    await recorder.ensure(client)
    with anyio.CancelScope(shield=True):
        await recorder.start(client, key, len(statements), backwards=step.backwards)
    try:
        number = 0
        for together, run in _runs(step, statements):
            if together:  # each in a transaction of its own, with its count
                for operation, sql in run:
                    number += 1
                    await _run_counted(executor, step, None, operation, sql, number, timeouts)
                continue
            # DDL: on one connection with the session settings, counted on it too (a second
            # pooled connection could wait forever on a pool of one).
            async with editor.pinned(client) as conn, _settings(executor, editor, conn, timeouts):
                for operation, sql in run:
                    number += 1
                    await _run_counted(executor, step, conn, operation, sql, number, timeouts)
    except MigrationFailed:
        if executor.progress.statements_done == 0:
            with anyio.CancelScope(shield=True):
                await recorder.clear(client, key)
        raise
    async with executor._transaction(client, editor) as tx:
        for each in (key, *step.migration.replaces):
            if step.backwards:
                await recorder.unrecord(tx, each)
            else:
                await recorder.record(tx, each, step.migration.checksum)
        await recorder.clear(tx, key)


def _runs(
    step: Step, statements: list[tuple[Operation, Any]]
) -> list[tuple[bool, list[tuple[Operation, Any]]]]:
    """Return the statements in runs of consecutive ones that all run in a transaction of their
    own (True) or all run on one connection without (False)."""
    runs: list[tuple[bool, list[tuple[Operation, Any]]]] = []
    for operation, sql in statements:
        together = in_transaction(step, operation, sql)
        if runs and runs[-1][0] == together:
            runs[-1][1].append((operation, sql))
        else:
            runs.append((together, [(operation, sql)]))
    return runs


@asynccontextmanager
async def _settings(
    executor: Executor, editor: SchemaEditor, conn: Any, timeouts: Timeouts
) -> AsyncIterator[None]:
    """Apply the editor's session settings (strict SQL mode, the timeouts) on ``conn`` for the
    body and undo them after: they hold for the session, and ``conn`` goes back to the pool."""
    settings = editor.session_settings(
        timeouts.lock_timeout, timeouts.statement_timeout, local=False
    )
    for sql in settings:
        await executor._statement(conn, editor, sql)
    try:
        yield
    finally:
        if settings:
            with anyio.CancelScope(shield=True):
                for sql in editor.reset_settings():
                    await executor._statement(conn, editor, sql)


async def _run_counted(
    executor: Executor,
    step: Step,
    conn: Any,
    operation: Operation,
    sql: Any,
    number: int,
    timeouts: Timeouts,
) -> None:
    """Run statement ``number`` of ``step`` and count it in the mark: on ``conn``, or (``conn``
    None: Python code and data changes) in a transaction of its own; retried when the lock
    timeout fires."""
    assert executor.client_for is not None and executor.recorder_for is not None
    app, key = step.migration.app, step.key
    client, editor = executor.client_for(app), executor.editor_for(app)
    recorder = executor.recorder_for(app)

    async def attempt() -> None:
        if conn is None:
            async with executor._transaction(client, editor) as tx:
                async with _settings(executor, editor, tx, timeouts):
                    await executor._run_one(tx, editor, step, operation, sql)
                await recorder.advance(tx, key, number)
            return
        await executor._run_one(conn, editor, step, operation, sql)
        with anyio.CancelScope(shield=True):
            await recorder.advance(conn, key, number)

    await executor._retrying(step, timeouts, attempt)
    executor.progress.statements_done = number


# -- the refusal -----------------------------------------------------------------------------------
SHOWN = 5  # statements named on each side: the last that ran, the first that did not


def short_form(operation: Operation, sql: Any) -> str:
    """Return a statement as the refusal names it: the start of its (first) SQL line, or the
    operation for Python code."""
    if isinstance(operation, RunPython):
        return operation.describe()
    flat = " ".join(str(sql).strip().split("\n", 1)[0].split()).rstrip(";")
    return flat if len(flat) <= 48 else flat[:45] + "..."


def _listed(items: list[tuple[int, str]], *, last: bool = False) -> str:
    """Return ``#n short form`` of the first (``last``: the last) few ``items``."""
    part = items[-SHOWN:] if last else items[:SHOWN]
    shown = [f"#{n} {text}" for n, text in part]
    hidden = len(items) - len(part)
    if hidden and last:
        shown.insert(0, f"{hidden} before")
    elif hidden:
        shown.append(f"and {hidden} more")
    return ", ".join(shown) or "none"


def half_applied(mark: Mark, connection: str, step: Step | None, dialect: str) -> str:
    """Return the one line that refuses to migrate past a migration that stopped half-way.

    ``step`` is the migration's step rebuilt from its file (None when the file is gone), used
    to name the statements that ran and those that did not.
    """
    app, name = mark.key
    done, total = mark.statements_done, mark.statements_total
    verb = "unapplying" if mark.backwards else "applying"
    what = f"{done} of its {total} statement(s) ran"
    if step is not None and len(flat_statements(step)) == total:
        listed = [(n, short_form(op, sql)) for n, (op, sql) in enumerate(flat_statements(step), 1)]
        ran, not_run = _listed(listed[:done], last=True), _listed(listed[done:])
        what += f" ({ran}), {total - done} did not ({not_run})"
        if done < total and not in_transaction(step, *flat_statements(step)[done]):
            what += f"; #{done + 1} may have run if the process died while it ran"
    elif step is not None:
        what += " (its file has changed since: compare it with the database)"
    else:
        what += " (its file is gone)"
    return (
        f"migration {app}.{name} stopped half-way on connection {connection!r} while {verb} it "
        f"(started {mark.started_at}; {dialect} has no transactional DDL): {what}; nothing runs "
        "until it is resolved: complete or undo those statements by hand, then run "
        f"`python -m tortoise_march_ext migrate {app} {name} --resolve applied` (the database "
        "has all of it) or `--resolve unapplied` (none of it); nothing was changed"
    )


class HalfApplied(DatabaseError):
    """A migration stopped half-way on a backend without transactional DDL."""
