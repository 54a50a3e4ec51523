"""migrate, showmigrations, sqlmigrate and check: what the database has applied, and changing it.

Also ``migrate APP NAME --resolve applied|unapplied`` (:func:`resolve`): clear the mark of a
migration that stopped half-way on a backend without transactional DDL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..config import MarchConfig
from ..engine.executor import Progress as Progress  # re-exported for the CLI
from ..engine.executor import Step, backwards_plan, forwards_plan, replay
from ..engine.legacy import rewrite_legacy
from ..engine.replacements import Legacy, check_applied, recorded_matches, replaced_by
from ..exceptions import ConfigError, DatabaseError, GraphError
from ..project import Project, open_project
from ..runtime.drift import DriftReport
from ..runtime.ensure import half_applied_marks, migration_lock, refuse_half_applied_marks
from .targets import absolute_target, is_relative

Key = tuple[str, str]


class FakeInitialRefused(DatabaseError):
    """``migrate --fake-initial`` found existing tables that differ; ``lines`` says how."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        super().__init__(
            f"migrate --fake-initial: {len(lines)} difference(s) between the existing tables and "
            "what the initial migration builds (listed below); nothing was recorded or changed. "
            "Make the tables match (or drop them to let the migration build them), then run "
            "migrate --fake-initial again"
        )


@dataclass
class MigrateResult:
    """What migrate planned and did."""

    steps: list[Step]
    applied: bool
    faked: set[Key] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)


@dataclass
class ShowEntry:
    """One line of showmigrations."""

    app: str
    name: str
    applied: bool
    note: str = ""
    vendored: bool = False

    @property
    def label(self) -> str:
        """Return the name as the CLI shows it (``billing:0001_initial`` when vendored)."""
        return f"{self.app}:{self.name}" if self.vendored else self.name


# -- migrate -------------------------------------------------------------------------------------
def check_history(project: Project, applied: dict[Key, Any]) -> Legacy:
    """Raise HistoryError for an applied migration whose file is missing or changed; return
    the rows recorded with the old checksum scheme (to rewrite)."""
    checksums = {key: node.checksum for key, node in project.loaded.items()}
    folder = project.config.migrations_dir

    def where(key: Key) -> str:
        node = project.loaded.get(key)
        return f" ({node.path if node else folder / key[0] / (key[1] + '.py')})"

    def source(key: Key) -> str | None:
        return project.loaded[key].source if key in project.loaded else None

    recorded = {key: row.checksum for key, row in applied.items()}
    return check_applied(recorded, checksums, project.replaces, where, source)


def plan_keys(
    project: Project, app: str | None, target: str | None, applied: set[Key]
) -> tuple[list[Key], bool]:
    """Return the migrations to run and whether they run backwards."""
    graph = project.graph
    for each in project.apps:
        graph.leaf(each)
    if app is None and target is not None:
        raise GraphError(f"target {target!r} needs its app: migrate APP {target}")
    if app is None:
        return forwards_plan(
            graph, [k for a in graph.apps() for k in graph.leaves(a)], applied
        ), False
    project.check_app(app)
    if target is None:
        leaf = graph.leaf(app)
        return (forwards_plan(graph, [leaf], applied) if leaf else []), False
    squash = replaced_by(project.replaces).get((app, target))
    if squash is not None and (app, target) not in graph.nodes:
        raise GraphError(
            f"{app}.{target} is replaced by the squash {squash[1]}, which this database uses; "
            f"migrate to {squash[1]} or to a migration before or after it"
        )
    key = graph.resolve(app, target)
    if key is None or key in applied:
        return backwards_plan(graph, app, key, applied), True
    return forwards_plan(graph, [key], applied), False


async def migrate(
    config: MarchConfig,
    app: str | None = None,
    target: str | None = None,
    *,
    fake: bool = False,
    fake_initial: bool = False,
    sql: bool = False,
    plan: bool = False,
    progress: Progress | None = None,
) -> MigrateResult:
    """Apply or unapply migrations so each app stands at its target (default: latest).

    The plan is made twice: once without a lock (``--sql``, ``--plan`` and a database with
    nothing to do stop there), then again from the recorder as it reads once the migration lock
    is held, which is the plan that runs (a relative ``target``, ``-N``/``+N``, is resolved
    before the lock: see :mod:`.targets`). A process that waited for another one to migrate
    finds nothing left and returns no steps. ``progress`` follows the run (see
    :meth:`Progress.kept` for what an interruption leaves). ``fake_initial`` records without
    running each initial migration whose tables exist and match (see :func:`initial_to_fake`).
    """
    async with open_project(config) as project:
        rows = await project.applied()
        if is_relative(target):  # -N / +N: resolved once, from the rows read before the lock
            check_history(project, rows)
            target = absolute_target(project, app, target, rows)
        steps, legacy = _plan(project, app, target, rows)
        if sql or plan:
            return MigrateResult(steps, applied=False)
        await refuse_half_applied_marks(project, project.apps)
        await rewrite_legacy(project.recorder, legacy)
        if not steps:
            return MigrateResult(steps, applied=False)
        async with migration_lock(project, project.apps, config.lock_timeout) as rows:
            steps, _ = _plan(project, app, target, rows)
            faked = await initial_to_fake(project, steps) if fake_initial and not fake else set()
            for group, fake_group in _groups(steps, faked, fake):
                await project.executor().run(group, fake=fake_group, progress=progress)
        warnings = await fake_warnings(project, steps) if fake else []
        return MigrateResult(steps, bool(steps), faked if not fake else set(), warnings)


RESOLUTIONS = ("applied", "unapplied")


async def resolve(config: MarchConfig, app: str, name: str, resolution: str) -> str:
    """Clear the mark of ``app.name``, a migration that stopped half-way on a backend without
    transactional DDL, once the database was fixed by hand; return what was done.

    ``applied``: record it as applied (the database has all of it); ``unapplied``: record it
    as not applied (none of it). Under the migration lock, in one transaction.
    """
    if resolution not in RESOLUTIONS:
        raise ConfigError(
            f"--resolve {resolution!r}: say applied (the database has all of the migration) "
            "or unapplied (none of it)"
        )
    async with open_project(config) as project:
        project.check_app(app)
        async with migration_lock(
            project, project.apps, config.lock_timeout, refuse_half_applied=False
        ) as rows:
            marks = [m for _, m in await half_applied_marks(project, [app]) if m.app == app]
            key = _marked(project, app, name, marks).key
            await _write_resolution(project, key, resolution, set(rows))
    return f"Resolved {app}.{key[1]} as {resolution}: the half-way mark is cleared."


async def _write_resolution(project: Project, key: Key, resolution: str, rows: set[Key]) -> None:
    """Record (``applied``) or unrecord (``unapplied``) the marked migration ``key`` and the
    migrations it replaces, and clear its mark, in one transaction."""
    app = key[0]
    node = project.loaded.get(key)
    if resolution == "applied" and node is None:
        raise DatabaseError(
            f"--resolve applied: the file of {app}.{key[1]} is gone, so its checksum cannot be "
            "recorded; restore the file, or use --resolve unapplied; nothing was changed"
        )
    recorder, client, editor = project.recorder(app), project.client(app), project.editor(app)
    async with project.executor()._transaction(client, editor) as tx:
        for each in (key, *(node.replaces if node else [])):
            if resolution == "applied" and each not in rows:
                assert node is not None
                await recorder.record(tx, each, node.checksum)
            elif resolution == "unapplied" and each in rows:
                await recorder.unrecord(tx, each)
        await recorder.clear(tx, key)


def _marked(project: Project, app: str, name: str, marks: list[Any]) -> Any:
    """Return the mark of ``app`` called ``name`` (or a unique prefix of it)."""
    exact = [m for m in marks if m.name == name]
    found = exact or [m for m in marks if m.name.startswith(name)]
    if len(found) == 1:
        return found[0]
    names = ", ".join(f"{m.app}.{m.name}" for m in marks) or "none"
    problem = "matches several marked migrations" if found else "is not marked as stopped half-way"
    raise DatabaseError(
        f"--resolve: {app}.{name} {problem} on connection {project.connection_name(app)!r} "
        f"(marked: {names}); nothing was changed"
    )


async def fake_warnings(project: Project, steps: list[Step]) -> list[str]:
    """Return one line per faked migration whose tables (those it creates) differ from what
    the migrations now recorded build; migrations that create no table are not compared."""
    from .schema_check import table_differences  # schema_check imports this module

    applied = project.use_applied(await project.applied())
    state = replay(project.graph, applied & set(project.graph.nodes))
    lines = []
    for step in steps:
        node = step.migration
        if step.backwards or not step.creates:
            continue
        found = await table_differences(project, node.app, state, step.creates)
        if found:
            lines.append(
                f"{node} was recorded but the database differs from what it builds: "
                + "; ".join(found)
            )
    return lines


def _groups(steps: list[Step], faked: set[Key], fake: bool) -> list[tuple[list[Step], bool]]:
    """Return the steps in runs of consecutive ones that are all faked or all run."""
    groups: list[tuple[list[Step], bool]] = []
    for step in steps:
        this = fake or step.migration.key in faked
        if groups and groups[-1][1] == this:
            groups[-1][0].append(step)
        else:
            groups.append(([step], this))
    return groups


async def initial_to_fake(project: Project, steps: list[Step]) -> set[Key]:
    """Return the initial migrations (no dependency in their own app) of the plan whose tables
    exist and match what they build; raise DatabaseError listing the differences when some of
    their tables exist but differ. An initial migration none of whose tables exist runs."""
    from .schema_check import table_differences  # schema_check imports this module

    faked: set[Key] = set()
    lines: list[str] = []
    for step in steps:
        node = step.migration
        if step.backwards or not step.creates or any(a == node.app for a, _ in node.dependencies):
            continue
        sql, values = project.editor(node.app).existing_tables(sorted(step.creates))
        _, rows = await project.client(node.app).execute_query(sql, values)
        if not rows:
            continue
        state = replay(project.graph, project.graph.topological([node.key]))
        found = await table_differences(project, node.app, state, step.creates)
        lines += [f"{node}: {line}" for line in found]
        faked.add(node.key)
    if lines:
        raise FakeInitialRefused(lines)
    return faked


def _plan(
    project: Project, app: str | None, target: str | None, rows: dict[Key, Any]
) -> tuple[list[Step], Legacy]:
    """Return the steps that bring the database whose recorder holds ``rows`` to the target,
    and the rows recorded with the old checksum scheme."""
    legacy = check_history(project, rows)
    applied = project.use_applied(rows)
    keys, backwards = plan_keys(project, app, target, applied)
    return project.executor().build_steps(keys, applied, backwards=backwards), legacy


# -- showmigrations and sqlmigrate ---------------------------------------------------------------
async def showmigrations(config: MarchConfig, app: str | None = None) -> list[ShowEntry]:
    """Return every migration with whether it is applied, and applied ones whose file is gone."""
    async with open_project(config) as project:
        if app:
            project.check_app(app)
        applied = await project.applied()
        done = project.use_applied(applied)
        squash_of = replaced_by(project.replaces)
        marks = {m.key: m for _, m in await half_applied_marks(project, project.apps)}
        entries = []
        for key in project.graph.topological():
            if app and key[0] != app:
                continue
            row = applied.get(key)
            node = project.loaded[key]
            same = row is None or recorded_matches(row.checksum, node.checksum, node.source)
            note = "" if same else "changed since applied"
            if node.replaces:
                note = f"replaces {len(node.replaces)} migration(s)"
            if key in marks:
                note = _half_way_note(marks[key])
            entries.append(ShowEntry(key[0], key[1], key in done, note, node.vendored))
        for key in sorted(set(applied) - set(project.loaded) - set(squash_of)):
            if not app or key[0] == app:
                vendored = project.is_vendored(key[0])
                entries.append(ShowEntry(key[0], key[1], True, "file missing", vendored))
        return sorted(entries, key=lambda e: e.app)


def _half_way_note(mark: Any) -> str:
    """Return the showmigrations note of a migration that stopped half-way."""
    verb = "unapplying" if mark.backwards else "applying"
    return (
        f"stopped half-way {verb} it: {mark.statements_done} of {mark.statements_total} "
        f"statement(s) ran; migrate {mark.app} {mark.name} --resolve applied|unapplied"
    )


async def sqlmigrate(config: MarchConfig, app: str, name: str, *, backwards: bool = False) -> Step:
    """Return the statements one migration runs, computed without touching the database."""
    async with open_project(config) as project:
        project.check_app(app)
        key = project.graph.resolve(app, name)
        if key is None:
            raise GraphError("sqlmigrate needs a migration name, not zero")
        before = [k for k in project.graph.topological([key]) if k != key]
        executor = project.executor()
        if backwards:
            return executor.build_steps([key], set(before) | {key}, backwards=True)[0]
        return executor.build_steps([key], set(before), backwards=False)[0]


# -- check ---------------------------------------------------------------------------------------
async def check(config: MarchConfig, *, database: bool = False) -> DriftReport:
    """Return how the models differ from the migration files (and, asked, what is pending).

    Raise ConfigError with the opt-in hint when nothing is tracked (no models, no files).
    """
    from ..exceptions import ConfigError
    from ..runtime.drift import check as drift_check
    from .make import NO_TRACKED

    async with open_project(config, load=False):
        report = await drift_check(config, database=database)
    if not report.apps:
        raise ConfigError(NO_TRACKED)  # "no drift" while tracking nothing would pass CI blindly
    return report
