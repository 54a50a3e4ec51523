"""``migrate --sql``: the plan as a script a DBA runs with the database's own client.

The script holds what the executor would run, in the same transactions: per atomic migration
``BEGIN;``, the transaction-local timeouts, its statements, its recorder row(s), ``COMMIT;``;
a migration that is not atomic (``atomic = False``, a concurrent index build) runs its
statements outside a transaction, under session timeouts, and only its recorder row in one. The
recorder table is created (``CREATE TABLE IF NOT EXISTS``) in the first transaction on each
connection, as the executor does. On MySQL/MariaDB, which commit each DDL statement, the script
keeps the executor's started mark (``tortoise_march_progress``), so a script that stops half-way
is seen by ``migrate`` and ``showmigrations`` like a run that stopped half-way.

With ``start`` (``--from NAME|zero``) the plan starts from the given migrations instead of the
recorder: no connection is opened (Tortoise connects lazily; the dialect is that of the client
class Tortoise picks for the connection's URL scheme or engine).

Values enter the script through ``editor.literal`` and names through ``editor.quote`` only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..backends import progress
from ..backends.base import SchemaEditor
from ..backends.fills import RowFill
from ..config import MarchConfig
from ..engine.executor import Step, Timeouts
from ..engine.marked import flat_statements, in_transaction
from ..exceptions import GraphError
from ..operations import Operation
from ..operations.python import PythonCall
from ..project import Project, open_project
from .migrate import _plan, plan_keys

Key = tuple[str, str]
CLIENTS = {
    "postgres": "psql -v ON_ERROR_STOP=1 -f FILE",
    "sqlite": "sqlite3 -bail DATABASE < FILE",
    "mysql": "mysql DATABASE < FILE",
}


class PythonInScript(GraphError):
    """The plan holds Python code (RunPython, a per-row callable fill): no script can run it."""


@dataclass
class _Writer:
    """The script being written, and what it already did on each connection."""

    project: Project
    lines: list[str] = field(default_factory=list)
    ensured: set[str] = field(default_factory=set)

    def add(self, *lines: str) -> None:
        self.lines.extend(lines)


def _is_python(sql: Any) -> bool:
    return isinstance(sql, (PythonCall, RowFill))


def refuse_python(steps: Sequence[Step]) -> None:
    """Raise PythonInScript naming the first step that runs Python code."""
    for step in steps:
        for operation, sql in flat_statements(step):
            if _is_python(sql):
                raise PythonInScript(
                    f"migrate --sql: {step.migration} ({step.migration.path}) runs Python code "
                    f"('{operation.describe()}'), which an SQL script cannot hold; apply it with "
                    "migrate, or pass --skip-python to write the script with a comment where "
                    "the Python step runs (the script then does not do what it does)"
                )


def terminated(sql: Any) -> str:
    """Return a statement as a script line: ending with ``;`` (before a trailing comment)."""
    lines = str(sql).strip().splitlines() or [""]
    for number in range(len(lines) - 1, -1, -1):
        line = lines[number]
        if line.lstrip().startswith("--"):
            continue
        code, sep, comment = line.partition(" -- ")
        if not code.rstrip().endswith(";"):
            lines[number] = code.rstrip() + ";" + (f" --{comment}" if sep else "")
        break
    return "\n".join(lines)


_DOLLAR = re.compile(r"\$(\d+)")


def bound(editor: SchemaEditor, sql: str, values: Sequence[Any]) -> str:
    """Return the editor's parametrised statement ``sql`` with ``values`` written in as literals
    (``editor.literal``), ending with ``;``."""
    mark = editor.placeholders(1)[0]
    if mark.startswith("$"):
        text = _DOLLAR.sub(lambda m: editor.literal(values[int(m.group(1)) - 1]), sql)
    else:
        parts = sql.split(mark)
        if len(parts) != len(values) + 1:
            raise ValueError(f"{len(values)} value(s) for {len(parts) - 1} placeholder(s)")
        text = parts[0] + "".join(
            editor.literal(v) + p for v, p in zip(values, parts[1:], strict=True)
        )
    return terminated(text)


def _recorder_rows(editor: SchemaEditor, step: Step) -> list[str]:
    """Return the INSERT (DELETE, backwards) of the step's recorder row(s): a squash is recorded
    with the migrations it replaces, as the executor records it."""
    keys = (step.key, *step.migration.replaces)
    if step.backwards:
        return [bound(editor, editor.recorder_delete(), list(key)) for key in keys]
    checksum = step.migration.checksum
    return [bound(editor, editor.recorder_insert(), [*key, checksum]) for key in keys]


def _statement(writer: _Writer, step: Step, operation: Operation, sql: Any) -> list[str]:
    if _is_python(sql):
        return [
            f"-- skipped (--skip-python): '{operation.describe()}' of {step.migration} runs "
            "Python code here; run it yourself, or apply this migration with migrate"
        ]
    return [terminated(sql)]


def _statements(writer: _Writer, step: Step) -> list[str]:
    out: list[str] = []
    for operation, statements in step.statements:
        out.append(f"-- {operation.describe()}")
        for sql in statements:
            out += _statement(writer, step, operation, sql)
    return out


def _fk_check(editor: SchemaEditor) -> list[str]:
    if not editor.fk_check_sql:
        return []
    return [
        "-- must return no row (a row is a foreign key that points nowhere):",
        terminated(editor.fk_check_sql),
    ]


def _transaction(editor: SchemaEditor, body: list[str]) -> list[str]:
    """Return ``body`` in one transaction, with the editor's foreign key switches around it."""
    off = [terminated(editor.fk_off_sql)] if editor.fk_off_sql else []
    on = [terminated(editor.fk_on_sql)] if editor.fk_on_sql else []
    return [*off, "BEGIN;", *body, "COMMIT;", *on]


def _ensure(writer: _Writer, step: Step, editor: SchemaEditor) -> list[str]:
    """Return the recorder's CREATE TABLE IF NOT EXISTS the first time a connection is used."""
    connection = writer.project.connection_name(step.migration.app)
    if connection in writer.ensured:
        return []
    writer.ensured.add(connection)
    return [terminated(editor.recorder_create())]


def _transactional_step(writer: _Writer, step: Step, editor: SchemaEditor, t: Timeouts) -> None:
    """Write a step on a backend with transactional DDL (PostgreSQL, SQLite)."""
    if step.atomic:
        body = [*_ensure(writer, step, editor)]
        body += editor.session_settings(t.lock_timeout, t.statement_timeout, local=True)
        body += _statements(writer, step) + _fk_check(editor) + _recorder_rows(editor, step)
        writer.add(*_transaction(editor, body))
        return
    writer.add("-- not atomic: its statements run one by one, outside a transaction")
    settings = editor.session_settings(t.lock_timeout, t.statement_timeout, local=False)
    writer.add(*(terminated(s) for s in settings), *_statements(writer, step), *_fk_check(editor))
    if settings:
        writer.add(*(terminated(s) for s in editor.reset_settings()))
    body = [*_ensure(writer, step, editor), *_recorder_rows(editor, step)]
    writer.add(*_transaction(editor, body))


def _marked_step(writer: _Writer, step: Step, editor: SchemaEditor, t: Timeouts) -> None:
    """Write a step on a backend without transactional DDL (MySQL/MariaDB), under the started
    mark the executor keeps (see :mod:`tortoise_march_ext.engine.marked`)."""
    app, name = step.key
    statements = flat_statements(step)
    direction = progress.BACKWARDS if step.backwards else progress.FORWARDS
    settings = [
        terminated(s)
        for s in editor.session_settings(t.lock_timeout, t.statement_timeout, local=False)
    ]
    reset = [terminated(s) for s in editor.reset_settings()]
    writer.add(
        f"-- {editor.dialect} commits each DDL statement on its own (no transactional DDL): "
        "BEGIN/COMMIT below hold data changes and the recorder row only; the mark in "
        f"{progress.PROGRESS_TABLE} says how far the migration got if the script stops",
        *_ensure(writer, step, editor),
        terminated(progress.create(editor)),
        bound(editor, progress.insert(editor), [app, name, direction, len(statements)]),
        *settings,
    )
    for number, (operation, sql) in enumerate(statements, 1):
        count = bound(editor, progress.update(editor), [number, app, name])
        lines = [f"-- {operation.describe()}", *_statement(writer, step, operation, sql), count]
        if in_transaction(step, operation, sql):
            writer.add("BEGIN;", *lines, "COMMIT;")
        else:
            writer.add(*lines)
    writer.add(*reset)
    rows = _recorder_rows(editor, step)
    writer.add("BEGIN;", *rows, bound(editor, progress.delete(editor), [app, name]), "COMMIT;")


def render(project: Project, steps: Sequence[Step], *, skip_python: bool = False) -> str:
    """Return the script of ``steps``; raise PythonInScript for Python code unless
    ``skip_python``."""
    if not steps:
        return "-- No migrations to apply."
    if not skip_python:
        refuse_python(steps)
    writer = _Writer(project)
    executor = project.executor()
    connections = sorted({project.connection_name(s.migration.app) for s in steps})
    first = project.editor(steps[0].migration.app)
    writer.add(
        f"-- migrate script by tortoise-march-ext for {first.dialect}; run it as it is, e.g. "
        f"{CLIENTS.get(first.dialect, 'with the database client')}",
    )
    if len(connections) > 1:
        writer.add(
            f"-- the plan runs on {len(connections)} connections ({', '.join(connections)}): run "
            "each migration's part on the database of the connection it names"
        )
    for step in steps:
        app = step.migration.app
        editor = project.editor(app)
        note = f" ({step.dialect_note})" if step.dialect_note else ""
        where = f" on connection {project.connection_name(app)!r}" if len(connections) > 1 else ""
        writer.add("", f"-- {step.describe()}{note}{where}")
        timeouts = executor.timeouts.for_migration(step.migration)
        if step.transactional:
            _transactional_step(writer, step, editor, timeouts)
        else:
            _marked_step(writer, step, editor, timeouts)
    return "\n".join(writer.lines)


def starting_point(project: Project, app: str | None, start: Sequence[str]) -> set[Key]:
    """Return the migrations ``--from`` says the database applied: each value is ``zero``
    (nothing), ``APP:NAME`` or, with APP, ``NAME`` (a unique prefix too), with its ancestors."""
    graph = project.graph
    keys: list[Key] = []
    for value in start:
        if value == "zero":
            continue
        label, sep, name = value.rpartition(":")
        if not sep:
            if app is None:
                raise GraphError(
                    f"--from {value!r} needs its app: --from APP:{value} (or give APP: "
                    f"migrate APP --sql --from {value})"
                )
            label, name = app, value
        project.check_app(label)
        key = graph.resolve(label, name)
        if key is not None:
            keys.append(key)
    if "zero" in start and keys:
        raise GraphError("--from zero means nothing is applied: give it alone")
    return set(graph.topological(keys)) if keys else set()


async def sql_script(
    config: MarchConfig,
    app: str | None = None,
    target: str | None = None,
    *,
    start: Sequence[str] | None = None,
    skip_python: bool = False,
) -> str:
    """Return the script that brings the database to the target (see the module docstring).

    Without ``start`` the plan starts from the recorder (one read of it); with ``start`` from
    the migrations it names, and no connection is opened.
    """
    async with open_project(config) as project:
        if start is None:
            steps, _ = _plan(project, app, target, await project.applied())
        else:
            applied = project.use_applied(starting_point(project, app, start))
            keys, backwards = plan_keys(project, app, target, applied)
            steps = project.executor().build_steps(keys, applied, backwards=backwards)
        return render(project, steps, skip_python=skip_python)
