"""``ensure_migrated()``: apply pending migrations at application start-up, safely in parallel.

Fast path without a lock: read the recorder (two queries per connection) and compare it with the
cached history; nothing pending -> return. Otherwise take the migration lock on a dedicated
connection, re-read the recorder, apply, release in ``finally``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from ..backends.locks import holding
from ..config import MarchConfig, load_config
from ..engine.executor import Step, forwards_plan
from ..engine.graph import MigrationGraph
from ..engine.legacy import rewrite_legacy
from ..engine.marked import HalfApplied, half_applied
from ..engine.recorder import Mark
from ..engine.replacements import Legacy, apply_replacements, check_applied
from ..exceptions import ConfigError, MarchError, PendingMigrations
from ..files.loader import source_reader
from ..project import Project, open_project
from . import signals
from .cache import History, load_history

Key = tuple[str, str]


@dataclass
class MigrationReport:
    """What ``ensure_migrated`` did, and what it left.

    ``applied``: the migrations this call applied (``"app.name"``, in the order they ran);
    ``pending``: those of the selected apps still not applied after the call (beyond a
    ``target``, for instance); empty when every app stands at its latest migration.
    """

    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return whether migrations were applied."""
        return bool(self.applied)


def _label(key: Key) -> str:
    return f"{key[0]}.{key[1]}"


def _targets(graph: MigrationGraph, apps: list[str], target: str | None) -> list[Key]:
    if target is None:
        return [leaf for app in apps if (leaf := graph.leaf(app)) is not None]
    app, sep, name = target.partition(".")
    if not sep:
        raise ConfigError(f"target {target!r} must be APP.NAME (a name or unique prefix)")
    key = graph.resolve(app, name)
    return [] if key is None else [key]


def _check_history(history: History, applied: dict[Key, Any], config: MarchConfig) -> Legacy:
    recorded = {key: row.checksum for key, row in applied.items()}
    source = source_reader(config.migrations_dir, config.vendored_dirs)
    return check_applied(recorded, history.checksums, history.replaces, source=source)


def _pending(
    project_apps: list[str], history: History, applied: dict[Key, Any], target: str | None
) -> list[Key]:
    deps, done = apply_replacements(history.dependencies, history.replaces, applied)
    graph = MigrationGraph(dict.fromkeys(deps), deps)
    apps = [a for a in project_apps if a in graph.apps()]
    return forwards_plan(graph, _targets(graph, apps, target), done)


def _remaining_of(apps: list[str], history: History, applied: dict[Key, Any]) -> list[Key]:
    """Return :func:`_remaining` for the recorder rows ``applied``."""
    deps, done = apply_replacements(history.dependencies, history.replaces, applied)
    return _remaining(MigrationGraph(dict.fromkeys(deps), deps), apps, done)


def _remaining(graph: MigrationGraph, apps: list[str], done: set[Key]) -> list[Key]:
    """Return the migrations of ``apps`` (and what they need) not in ``done``, in plan order;
    every leaf counts, so that this never raises for an app with two latest migrations."""
    leaves = [leaf for app in apps if app in graph.apps() for leaf in graph.leaves(app)]
    return forwards_plan(graph, leaves, done)


@asynccontextmanager
async def migration_lock(
    project: Project, apps: Iterable[str], timeout: float, *, refuse_half_applied: bool = True
) -> AsyncIterator[dict[Key, Any]]:
    """Hold the migration lock of every connection ``apps`` use; yield the recorder rows read
    after taking it (what the plan must be made from: another process may just have migrated).

    Every entry point that changes a database goes through here: ``ensure_migrated()`` and the
    ``migrate`` command (``--fake`` included). A migration that stopped half-way on a backend
    without transactional DDL stops them (HalfApplied), except ``--resolve``, which clears it.
    """
    wanted = sorted(set(apps))
    names = {project.connection_name(app): app for app in reversed(wanted)}
    clients = [(name, project.client(app)) for name, app in names.items()]
    async with holding(clients, timeout):
        if refuse_half_applied:
            await refuse_half_applied_marks(project, wanted)
        yield await project.applied(wanted)


async def half_applied_marks(project: Project, apps: Iterable[str]) -> list[tuple[str, Mark]]:
    """Return ``(connection name, mark)`` of each migration that stopped half-way on the
    connections ``apps`` use (no query where DDL is transactional)."""
    found: list[tuple[str, Mark]] = []
    seen: set[str] = set()
    for app in sorted(set(apps)):
        name = project.connection_name(app)
        if name in seen:
            continue
        seen.add(name)
        marks = await project.recorder(app).marks()
        found += [(name, m) for m in marks if project.connection_name(m.app) == name]
    return found


async def refuse_half_applied_marks(project: Project, apps: Iterable[str]) -> None:
    """Raise HalfApplied, in one line, for the first migration that stopped half-way."""
    marks = await half_applied_marks(project, apps)
    if not marks:
        return
    connection, mark = marks[0]
    step = await _step_of(project, mark)
    dialect = project.editor(mark.app).dialect
    raise HalfApplied(half_applied(mark, connection, step, dialect))


async def _step_of(project: Project, mark: Mark) -> Step | None:
    """Return the step of the marked migration rebuilt from the files (None without its file)."""
    try:
        if not project.loaded:
            project.load_files()
        done = project.use_applied(await project.applied())
        if mark.key not in project.graph.nodes:
            return None
        executor = project.executor()
        if mark.backwards:
            return executor.build_steps([mark.key], done | {mark.key}, backwards=True)[0]
        return executor.build_steps([mark.key], done - {mark.key}, backwards=False)[0]
    except MarchError:
        return None


async def _apply(project: Project, keys: list[Key], applied: set[Key]) -> list[Step]:
    executor = project.executor()
    steps = executor.build_steps(keys, applied, backwards=False)

    async def before(step: Step) -> None:
        conn = project.connection_name(step.migration.app)
        await signals.pre_migrate.send(plan=steps, connection=conn, migration=str(step.migration))

    async def after(step: Step) -> None:
        conn = project.connection_name(step.migration.app)
        await signals.post_migrate.send(plan=steps, connection=conn, migration=str(step.migration))

    connections = sorted({project.connection_name(s.migration.app) for s in steps})
    for conn in connections:
        await signals.pre_migrate.send(plan=steps, connection=conn, migration=None)
    await executor.run(steps, before=before, after=after)
    for conn in connections:
        await signals.post_migrate.send(plan=steps, connection=conn, migration=None)
    return steps


async def pending_migrations(config: MarchConfig, history: History | None = None) -> list[str]:
    """Return the migrations the database has not applied yet (two queries per connection)."""
    history = history or load_history(config.migrations_dir, vendored=config.vendored_dirs)
    async with open_project(config, init=False, load=False) as project:
        selected = sorted({k[0] for k in history.nodes})
        applied = await project.applied(selected)
        return [_label(k) for k in _pending(selected, history, applied, None)]


async def ensure_migrated(
    config: MarchConfig | None = None,
    *,
    apps: list[str] | None = None,
    target: str | None = None,
    lock_timeout: float | None = None,
    check_only: bool = False,
) -> MigrationReport:
    """Apply the pending migrations of every tracked app on its connection; return what was done.

    Works on the application's own Tortoise (``Tortoise.init`` or ``RegisterTortoise`` must have
    run) and never closes its connections. ``target`` is ``"app.name"`` (forward only);
    ``check_only=True`` applies nothing and raises PendingMigrations when work is pending.
    """
    config = config or load_config()
    history = load_history(config.migrations_dir, vendored=config.vendored_dirs)
    async with open_project(config, init=False, load=False) as project:
        for app in apps or []:
            project.check_app(app)
        selected = sorted(apps or {k[0] for k in history.nodes})
        applied = await project.applied(selected)
        await refuse_half_applied_marks(project, selected)
        legacy = _check_history(history, applied, config)
        if not check_only:
            await rewrite_legacy(project.recorder, legacy)
        pending = _pending(selected, history, applied, target)
        if not pending:
            left = _remaining_of(selected, history, applied) if target else []
            return MigrationReport(pending=[_label(k) for k in left])
        if check_only:
            names = [_label(k) for k in pending]
            raise PendingMigrations(
                f"{len(names)} pending migration(s): {', '.join(names)}; run "
                "`python -m tortoise_march_ext migrate` or call march.ensure_migrated()",
                pending=names,
            )
        timeout = config.lock_timeout if lock_timeout is None else lock_timeout
        project.load_files()
        async with migration_lock(project, selected, timeout) as applied:
            fresh = load_history(config.migrations_dir, vendored=config.vendored_dirs)
            await rewrite_legacy(project.recorder, _check_history(fresh, applied, config))
            done = project.use_applied(applied)
            keys = forwards_plan(project.graph, _targets(project.graph, selected, target), done)
            steps = await _apply(project, keys, done)
            left = _remaining(project.graph, selected, done | {s.migration.key for s in steps})
        return MigrationReport(
            applied=[str(s.migration) for s in steps], pending=[_label(k) for k in left]
        )
