"""migrate, showmigrations, sqlmigrate and check: what the database has applied, and changing it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import MarchConfig
from ..engine.executor import Step, backwards_plan, forwards_plan
from ..engine.replacements import check_applied, replaced_by
from ..exceptions import GraphError
from ..project import Project, open_project
from ..runtime.drift import DriftReport

Key = tuple[str, str]


@dataclass
class MigrateResult:
    """What migrate planned and did."""

    steps: list[Step]
    applied: bool


@dataclass
class ShowEntry:
    """One line of showmigrations."""

    app: str
    name: str
    applied: bool
    note: str = ""


# -- migrate -------------------------------------------------------------------------------------
def check_history(project: Project, applied: dict[Key, Any]) -> None:
    """Raise HistoryError for an applied migration whose file is missing or changed."""
    checksums = {key: node.checksum for key, node in project.loaded.items()}
    folder = project.config.migrations_dir

    def where(key: Key) -> str:
        return f" ({folder / key[0] / (key[1] + '.py')})"

    check_applied(
        {key: row.checksum for key, row in applied.items()}, checksums, project.replaces, where
    )


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
    sql: bool = False,
    plan: bool = False,
) -> MigrateResult:
    """Apply or unapply migrations so each app stands at its target (default: latest)."""
    async with open_project(config) as project:
        applied_rows = await project.applied()
        check_history(project, applied_rows)
        applied = project.use_applied(applied_rows)
        keys, backwards = plan_keys(project, app, target, applied)
        executor = project.executor()
        steps = executor.build_steps(keys, applied, backwards=backwards)
        if sql or plan:
            return MigrateResult(steps, applied=False)
        await executor.run(steps, fake=fake)
        return MigrateResult(steps, applied=True)


# -- showmigrations and sqlmigrate ---------------------------------------------------------------
async def showmigrations(config: MarchConfig, app: str | None = None) -> list[ShowEntry]:
    """Return every migration with whether it is applied, and applied ones whose file is gone."""
    async with open_project(config) as project:
        if app:
            project.check_app(app)
        applied = await project.applied()
        done = project.use_applied(applied)
        squash_of = replaced_by(project.replaces)
        entries = []
        for key in project.graph.topological():
            if app and key[0] != app:
                continue
            row = applied.get(key)
            node = project.loaded[key]
            note = "changed since applied" if row and row.checksum != node.checksum else ""
            if node.replaces:
                note = f"replaces {len(node.replaces)} migration(s)"
            entries.append(ShowEntry(key[0], key[1], key in done, note))
        for key in sorted(set(applied) - set(project.loaded) - set(squash_of)):
            if not app or key[0] == app:
                entries.append(ShowEntry(key[0], key[1], True, "file missing"))
        return sorted(entries, key=lambda e: e.app)


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
