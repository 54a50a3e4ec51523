"""adopt: take over a database built another way (``generate_schemas()``, aerich, Tortoise's
built-in migrations, Tortoise March) for apps that have no migration files yet.

For each such app the initial migration is made exactly as ``makemigrations`` makes it; the live
tables are compared with what it builds (the comparison of ``check --schema``); when they
match, the files are written and recorded as applied under the migration lock, as
``migrate --fake`` records. When anything differs, or another tool's history still has migrations
to apply, nothing is written: no file, no recorder row. The other tools' tables are only read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..config import MarchConfig
from ..engine.executor import forwards_plan, replay
from ..engine.foreign import ForeignHistory, find_histories
from ..exceptions import EXIT_FOUND, DatabaseError
from ..operations import CreateModel
from ..project import Project, open_project
from ..runtime.ensure import migration_lock
from ..schema.state import ProjectState
from ..schema.tables import model_tables
from .make import NewMigration, _write, make_questioner, makemigrations
from .migrate import check_history

Key = tuple[str, str]


class AdoptRefused(DatabaseError):
    """adopt found a database it cannot take over as it is; ``lines`` says why (exit 1)."""

    exit_code = EXIT_FOUND

    def __init__(self, message: str, lines: list[str] | None = None) -> None:
        self.lines = lines or []
        super().__init__(message)


@dataclass
class AdoptedApp:
    """One app taken over: the migrations written and recorded, the tables found matching."""

    app: str
    paths: list[Path]
    tables: int


@dataclass
class AdoptResult:
    """What adopt did; ``skipped`` and ``histories`` are one line each."""

    adopted: list[AdoptedApp] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    histories: list[ForeignHistory] = field(default_factory=list)
    drop_hints: list[str] = field(default_factory=list)


def _skip_line(project: Project, app: str) -> str:
    if project.is_vendored(app):
        return (
            f"{app}: skipped, its migrations are vendored ({project.config.vendored_dirs[app]}); "
            "for tables that exist already use `migrate --fake-initial`"
        )
    count = sum(1 for a, _ in project.loaded if a == app)
    return (
        f"{app}: skipped, it already has {count} migration(s) in "
        f"{project.config.migrations_dir / app}; adopt is for apps without migrations (for "
        "tables built another way use `migrate --fake-initial`)"
    )


async def _select(config: MarchConfig, apps: list[str] | None) -> tuple[list[str], list[str]]:
    """Return the apps to adopt and one line per app skipped (raise ConfigError for an app
    the project does not know)."""
    async with open_project(config) as project:
        for app in apps or []:
            project.check_app(app)
        skipped: list[str] = []
        chosen: list[str] = []
        for app in sorted(set(apps or project.apps)):
            if app in project.graph.apps() or project.is_vendored(app):
                skipped.append(_skip_line(project, app))
            elif app not in project.models.apps:
                skipped.append(f"{app}: skipped, it has no tracked models")
            else:
                chosen.append(app)
        return chosen, skipped


async def adopt(config: MarchConfig, apps: list[str] | None = None) -> AdoptResult:
    """Write and record the initial migrations of ``apps`` (default: every tracked app without
    migrations) when the live database matches them; raise AdoptRefused otherwise."""
    chosen, skipped = await _select(config, apps)
    result = AdoptResult(skipped=skipped)
    if not chosen:
        return result
    made = await makemigrations(
        config, chosen, dry_run=True, questioner=make_questioner(noinput=True)
    )
    new = [m for m in made.migrations if m.app in chosen]
    if not new:
        return result
    async with open_project(config) as project:
        async with migration_lock(project, chosen, config.lock_timeout) as rows:
            check_history(project, rows)
            result.histories = await _histories(project, chosen)
            waiting = [h for h in result.histories if h.unapplied]
            if waiting:
                raise AdoptRefused(waiting[0].refusal(), [h.found_line() for h in waiting[1:]])
            state, created = _built(project, new)
            lines: list[str] = []
            for app in chosen:
                lines += await _differences(project, app, state, created.get(app, []))
            if lines:
                raise AdoptRefused(_differ_message(chosen, lines, result.histories), lines)
            await _record(project, new)
        result.adopted = [
            AdoptedApp(app, [m.path for m in new if m.app == app], len(created.get(app, [])))
            for app in chosen
        ]
        result.drop_hints = _drop_hints(result.histories)
    return result


async def _histories(project: Project, apps: list[str]) -> list[ForeignHistory]:
    by_connection: dict[str, list[str]] = {}
    for app in apps:
        by_connection.setdefault(project.connection_name(app), []).append(app)
    found: list[ForeignHistory] = []
    tortoise_apps = project.tortoise_config.get("apps", {})
    for members in by_connection.values():
        client, editor = project.client(members[0]), project.editor(members[0])
        found += await find_histories(client, editor, members, project.config.root, tortoise_apps)
    return found


def _built(project: Project, new: list[NewMigration]) -> tuple[ProjectState, dict[str, list[str]]]:
    """Return the state the existing and new migrations build, and the tables each app's new
    migrations create."""
    state = replay(project.graph, project.graph.nodes)
    created: dict[str, list[str]] = {}
    for migration in new:
        for operation in migration.operations:
            operation.state_forwards(migration.app, state)
            if isinstance(operation, CreateModel):
                model = state.get_model(migration.app, operation.name)
                tables = created.setdefault(migration.app, [])
                tables += [t.name for t in model_tables(state, model)]
    return state, created


async def _differences(
    project: Project, app: str, state: ProjectState, tables: list[str]
) -> list[str]:
    from .schema_check import table_differences  # schema_check imports migrate, as we do

    if not tables:
        return []
    return await table_differences(project, app, state, tables)


def _differ_message(apps: list[str], lines: list[str], histories: list[ForeignHistory]) -> str:
    tools = sorted({h.tool for h in histories})
    built = f" (the database {' and '.join(tools)} built)" if tools else ""
    return (
        f"adopt {', '.join(apps)}: the database{built} differs from the models in {len(lines)} "
        "way(s), listed one per line as `check --schema` lists them; nothing was written or "
        "recorded. "
        "Make the models match the database and run adopt again; then restore your change and "
        "run makemigrations + migrate, which writes and applies the migration that reconciles "
        "them"
    )


async def _record(project: Project, new: list[NewMigration]) -> None:
    """Write the new files and record them as applied; remove the files if recording fails."""
    _write_all(new)
    try:
        project.load_files()
        applied = project.use_applied(await project.applied())
        keys = forwards_plan(project.graph, [(m.app, m.name) for m in new], applied)
        executor = project.executor()
        await executor.run(executor.build_steps(keys, applied, backwards=False), fake=True)
    except BaseException:
        for migration in new:
            migration.path.unlink(missing_ok=True)
        raise


def _write_all(new: list[NewMigration]) -> None:
    from .make import MakeMigrationsResult

    _write(MakeMigrationsResult(migrations=new), False)


def _drop_hints(histories: list[ForeignHistory]) -> list[str]:
    hints: list[str] = []
    for history in histories:
        line = (
            f"{history.owner} table {history.table} is left as it was; once no database needs "
            f"{history.tool} any more, drop it with: {history.drop}"
        )
        if line not in hints:
            hints.append(line)
    return hints
