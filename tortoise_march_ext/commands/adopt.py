"""adopt: take over a database built another way (``generate_schemas()``, aerich, Tortoise's
built-in migrations, Tortoise March) for apps that have no migration files yet.

For each such app the initial migration is made exactly as ``makemigrations`` makes it; the live
tables are compared with what it builds (the comparison of ``check --schema``); when they
match, the files are written and recorded as applied under the migration lock, as
``migrate --fake`` records. When anything differs, or another tool's history still has migrations
to apply, nothing is written: no file, no recorder row. The other tools' tables are only read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..autodetect.autodetector import detect_changes
from ..autodetect.optimizer import optimize
from ..config import MarchConfig
from ..engine.executor import Progress, forwards_plan, replay
from ..engine.foreign import ForeignHistory, find_histories
from ..exceptions import EXIT_FOUND, DatabaseError, MarchError
from ..introspect import introspect
from ..operations import CreateModel
from ..project import Project, open_project
from ..runtime.ensure import migration_lock
from ..schema.state import ModelState, ProjectState
from ..schema.tables import m2m_tables, model_tables
from .make import (
    MakeMigrationsResult,
    NewMigration,
    _dependencies,
    _order_units,
    _render,
    _Unit,
    make_questioner,
    makemigrations,
    next_number,
    suggest_name,
)
from .migrate import check_history

Key = tuple[str, str]


class AdoptRefused(DatabaseError):
    """adopt found a database it cannot take over as it is; ``lines`` says why (exit 1)."""

    exit_code = EXIT_FOUND

    def __init__(
        self, message: str, lines: list[str] | None = None, found: list[str] | None = None
    ) -> None:
        self.lines = lines or []
        self.found = found or []
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
    wrote_difference: bool = False
    difference: MakeMigrationsResult | None = None
    difference_error: str = ""


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


def _taken_line(app: str) -> str:
    return (
        f"{app}: skipped, its migrations were written meanwhile (by another adopt or "
        "makemigrations); run showmigrations to see them"
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


async def adopt(
    config: MarchConfig, apps: list[str] | None = None, *, write_difference: bool = False
) -> AdoptResult:
    """Write and record the initial migrations of ``apps`` (default: every tracked app without
    migrations) when the live database matches them; raise AdoptRefused otherwise.

    With ``write_difference`` a database that lacks only what the models add (tables, columns,
    many-to-many tables) is adopted as it stands: the initial migrations describe the database
    and are recorded, and ``makemigrations`` then writes the migration that adds the rest (not
    applied). Another tool's unapplied migrations are then no reason to refuse.
    """
    chosen, skipped = await _select(config, apps)
    result = AdoptResult(skipped=skipped)
    if not chosen:
        return result
    made = await makemigrations(
        config, chosen, dry_run=True, questioner=make_questioner(noinput=True)
    )
    new = [m for m in made.migrations if m.app in chosen]
    result.skipped += [_taken_line(app) for app in chosen if not any(m.app == app for m in new)]
    chosen = sorted({m.app for m in new})
    if not new:
        return result
    async with open_project(config) as project:
        async with migration_lock(project, chosen, config.lock_timeout) as rows:
            # Another adopt (or makemigrations) may have written this app's files meanwhile.
            project.load_files()
            check_history(project, rows)
            taken = [a for a in chosen if a in project.graph.apps() or any(k[0] == a for k in rows)]
            result.skipped += [_taken_line(app) for app in taken]
            chosen = [app for app in chosen if app not in taken]
            new = [m for m in new if m.app in chosen]
            if not new:
                return result
            result.histories = await _histories(project, chosen)
            waiting = [h for h in result.histories if h.unapplied]
            if waiting and not write_difference:
                raise AdoptRefused(waiting[0].refusal(), [h.found_line() for h in waiting[1:]])
            state, created = _built(project, new)
            await _refuse_empty(project, chosen, created)
            lines = await _all_differences(project, chosen, state, created)
            if lines:
                db_state = await database_state(project, chosen, state)
                writable = not await _all_differences(
                    project, chosen, db_state, _tables_of(db_state, chosen)
                )
                if not (writable and write_difference):
                    found = [h.found_line() for h in result.histories]
                    message = _differ_message(
                        chosen, lines, result.histories, writable, write_difference
                    )
                    raise AdoptRefused(message, lines, found)
                new = initial_from(project, db_state, chosen)
                state, created = _built(project, new)
                result.wrote_difference = True
            await _record(project, new)
        result.adopted = [
            AdoptedApp(app, [m.path for m in new if m.app == app], len(created.get(app, [])))
            for app in chosen
        ]
        result.drop_hints = _drop_hints(result.histories)
    if result.wrote_difference:
        try:
            result.difference = await makemigrations(
                config, chosen, questioner=make_questioner(noinput=True)
            )
        except MarchError as exc:
            result.difference_error = " ".join(str(exc).split())
    return result


async def _refuse_empty(project: Project, apps: list[str], created: dict[str, list[str]]) -> None:
    """Raise AdoptRefused for an app none of whose tables exist: there is nothing to adopt (and
    recording its migrations would claim tables that are not there)."""
    for app in apps:
        tables = sorted(created.get(app, []))
        if not tables:
            continue
        sql, values = project.editor(app).existing_tables(tables)
        _, rows = await project.client(app).execute_query(sql, values)
        if not rows:
            raise AdoptRefused(
                f"adopt {app}: none of its tables ({', '.join(tables)}) exist on connection "
                f"{project.connection_name(app)!r}, so there is nothing to adopt; nothing was "
                "written. Run `makemigrations` then `migrate` to build them (or point the "
                "connection at the database you meant)"
            )


async def _all_differences(
    project: Project, apps: list[str], state: ProjectState, created: dict[str, list[str]]
) -> list[str]:
    lines: list[str] = []
    for app in apps:
        lines += await _differences(project, app, state, created.get(app, []))
    return lines


def _tables_of(state: ProjectState, apps: list[str]) -> dict[str, list[str]]:
    return {
        app: [t.name for m in state.app_models(app) for t in model_tables(state, m)] for app in apps
    }


async def database_state(project: Project, apps: list[str], state: ProjectState) -> ProjectState:
    """Return ``state`` with what the live database lacks taken out of the models of ``apps``:
    models whose table is missing (and relations to them), fields whose column is missing,
    many-to-many fields whose table is missing, with the indexes and constraints on them."""
    live: dict[str, Any] = {}
    for first in {project.connection_name(app): app for app in apps}.values():
        live.update(await introspect(project.client(first)))
    out = state.clone()
    wanted = set(apps)
    gone: set[str] = set()
    for (app, name), model in sorted(state.models.items()):
        if app in wanted and model.table not in live:
            out.remove_model(app, name)
            gone.add(f"{app}.{name}")
    for (app, _), model in sorted(out.models.items()):
        if app not in wanted:
            continue
        for field_name, state_field in model.fields:
            if state_field.is_relation and state_field.to in gone:
                model = _without(model, field_name)
        columns = live[model.table]["columns"]
        through = m2m_tables(out, model)
        for field_name, state_field in model.fields:
            if state_field.is_m2m:
                lost = field_name in through and through[field_name].name not in live
            else:
                lost = model.column_of(field_name) not in columns
            if lost:
                model = _without(model, field_name)
        out.put_model(model)
    return out


def _without(model: ModelState, name: str) -> ModelState:
    """Return ``model`` without field ``name`` and the indexes and constraints that use it."""
    model = model.without_field(name)
    return model.with_changes(
        indexes=tuple(i for i in model.indexes if name not in i.field_names),
        unique_together=tuple(g for g in model.unique_together if name not in g),
        constraints=tuple(c for c in model.constraints if name not in c.field_names),
    )


def initial_from(project: Project, target: ProjectState, apps: list[str]) -> list[NewMigration]:
    """Return the initial migrations of ``apps`` that build ``target``, made and named as
    makemigrations makes them from models."""
    old = replay(project.graph, project.graph.nodes)
    changes = detect_changes(old, target, set(apps), make_questioner(noinput=True))
    units = [_Unit(app, ops) for app, ops in sorted(changes.operations.items()) if ops]
    written: list[_Unit] = []
    out: list[NewMigration] = []
    for unit in _order_units(units):
        unit.operations = optimize(unit.operations, unit.app)
        initial = not any(u.app == unit.app for u in written)
        number = next_number(project, unit.app) + sum(u.app == unit.app for u in written)
        unit.name = f"{number:04d}_{suggest_name(unit.operations, initial)}"
        deps = _dependencies(project, unit, written)
        written.append(unit)
        out.append(_render(project, unit, deps, initial, False))
    return out


async def _histories(project: Project, apps: list[str]) -> list[ForeignHistory]:
    by_connection: dict[str, list[str]] = {}
    for app in apps:
        by_connection.setdefault(project.connection_name(app), []).append(app)
    found: list[ForeignHistory] = []
    tortoise_apps = project.tortoise_config.get("apps", {})
    for members in by_connection.values():
        client, editor = project.client(members[0]), project.editor(members[0])
        found += await find_histories(
            client, editor, members, project.config.root, tortoise_apps, project.config.tortoise_orm
        )
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


def _differ_message(
    apps: list[str],
    lines: list[str],
    histories: list[ForeignHistory],
    writable: bool,
    asked: bool,
) -> str:
    tools = sorted({h.tool for h in histories})
    built = f" {' and '.join(tools)} built" if tools else ""
    head = (
        f"adopt {', '.join(apps)}: the database{built} differs from the models in {len(lines)} "
        "way(s), listed one per line as `check --schema` lists them; nothing was written or "
        "recorded. "
    )
    if writable:
        return head + (
            "The models only add to the database: run `adopt --write-difference` to record "
            "the initial migration as the database stands and write the migration that adds "
            "the rest, then `migrate` to apply it"
        )
    only = (
        "(--write-difference writes only what the models add: tables, columns and "
        "many-to-many tables the database lacks) "
        if asked
        else ""
    )
    return (
        head
        + only
        + (
            "Make the models match the database and run adopt again; then restore your change and "
            "run makemigrations + migrate, which write and apply the migration that reconciles them"
        )
    )


async def _record(project: Project, new: list[NewMigration]) -> None:
    """Write the new files and record them as applied. When recording fails, the files of the
    migrations not recorded are removed again; on an interruption (Ctrl-C, cancellation) the
    file of the migration being recorded stays, since its transaction may have committed."""
    _write_all(new)
    progress = Progress()
    try:
        project.load_files()
        applied = project.use_applied(await project.applied())
        keys = forwards_plan(project.graph, [(m.app, m.name) for m in new], applied)
        executor = project.executor()
        steps = executor.build_steps(keys, applied, backwards=False)
        await executor.run(steps, fake=True, progress=progress)
    except BaseException as exc:
        kept = {step.migration.key for step in progress.done}
        if progress.running is not None and not isinstance(exc, Exception):
            kept.add(progress.running.migration.key)
        for migration in new:
            if (migration.app, migration.name) not in kept:
                migration.path.unlink(missing_ok=True)
        raise


def _write_all(new: list[NewMigration]) -> None:
    """Write each file whole (a temporary file renamed), so that a process loading the folder
    meanwhile never reads half a migration."""
    for migration in new:
        migration.path.parent.mkdir(parents=True, exist_ok=True)
        part = migration.path.with_name(f".{migration.path.name}.{os.getpid()}.part")
        part.write_text(migration.source, encoding="utf-8")
        os.replace(part, migration.path)


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
