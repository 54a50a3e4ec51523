"""makemigrations: write the migrations that bring the files in line with the models (and
``--merge`` migrations for branches)."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from ..autodetect.autodetector import Changes, detect_changes
from ..autodetect.optimizer import optimize
from ..autodetect.questioner import (
    InteractiveQuestioner,
    NoInputQuestioner,
    Questioner,
    RenameHints,
)
from ..config import MarchConfig
from ..engine.executor import replay
from ..exceptions import GraphError, HistoryError, StateError
from ..files.editor import Update, update_module
from ..files.writer import data_migration_stub, describe_operations, render_migration
from ..lint import Finding, lint_operations
from ..operations import (
    AddConstraint,
    AddField,
    AddIndex,
    AlterField,
    CreateModel,
    DropExtension,
    Operation,
    RemoveConstraint,
    RemoveField,
    RemoveIndex,
    ValidateConstraint,
)
from ..project import Project, open_project
from ..runtime.drift import difference
from ..schema import fields
from ..schema.state import FieldState, ModelState, ProjectState
from ..schema.tables import derived_name, index_name
from .conflicts import conflicts, touched
from .lint import target_of
from .summary import summarised

Key = tuple[str, str]
MAX_NAME = 52
CONCURRENTLY_REASON = "Not atomic: CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction."
NO_TRACKED = (
    "No tracked models. Opt a model in with `class Meta(march.Meta): ...` "
    '(import tortoise_march_ext as march), or set track = "all" in [tool.tortoise_march_ext].'
)


@dataclass
class NewMigration:
    """A migration makemigrations wrote (or would write)."""

    app: str
    name: str
    path: Path
    operations: list[Operation]
    source: str
    updated: bool = False
    findings: list[Finding] = field(default_factory=list)


@dataclass
class MakeMigrationsResult:
    """What makemigrations found."""

    migrations: list[NewMigration] = field(default_factory=list)
    message: str = ""
    # Each change the models make, as ``check`` words it (``contacts.Contact: field email added``).
    differences: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Return whether any migration is (or would be) written."""
        return bool(self.migrations)


# -- makemigrations ------------------------------------------------------------------------------
def make_questioner(
    *,
    noinput: bool = False,
    rename_fields: list[str] | None = None,
    rename_models: list[str] | None = None,
    no_renames: bool = False,
    input: TextIO | None = None,
    output: TextIO | None = None,
) -> Questioner:
    """Return the questioner the CLI flags ask for (stdin/stdout unless given)."""
    hints = RenameHints.parse(rename_fields, rename_models, no_renames)
    if noinput:
        return NoInputQuestioner(hints, output)
    return InteractiveQuestioner(input or sys.stdin, output or sys.stdout, hints)


def suggest_name(operations: list[Operation], initial: bool) -> str:
    """Return a migration name derived from its operations (Django's rule, without timestamps)."""
    if initial:
        return "initial"
    # File names are ASCII (the loader's rule): other characters fall out of the suggestion.
    cleaned = (re.sub(r"[^0-9A-Za-z]+", "_", op.name_fragment).strip("_") for op in operations)
    fragments = [fragment for fragment in cleaned if fragment]
    name = fragments[0] if fragments else "auto"
    for fragment in fragments[1:]:
        if len(f"{name}_{fragment}") > MAX_NAME:
            return f"{name}_and_more"
        name = f"{name}_{fragment}"
    return name


def next_number(project: Project, app: str) -> int:
    """Return the number of the next migration of ``app``."""
    numbers = [int(m.group()) for a, n in project.loaded if a == app if (m := re.match(r"\d+", n))]
    return max(numbers, default=0) + 1


@dataclass
class _Unit:
    """The operations of one new migration, before it is named and numbered."""

    app: str
    operations: list[Operation]
    name: str = ""
    atomic: bool = True

    def references(self) -> set[Key]:
        """Return the models of other apps these operations point at."""
        refs = set()
        for operation in self.operations:
            for state in _fields_of(operation):
                if state.is_relation and state.to and not state.to.startswith(self.app + "."):
                    app, _, model = state.to.partition(".")
                    refs.add((app, model))
        return refs

    def creates(self) -> set[Key]:
        """Return the models these operations create."""
        return {(self.app, op.name) for op in self.operations if isinstance(op, CreateModel)}


def _fields_of(operation: Operation) -> list[FieldState]:
    if isinstance(operation, CreateModel):
        return [state for _, state in operation.fields]
    if isinstance(operation, (AddField, AlterField)):
        return [operation.field]
    return []


def _order_units(units: list[_Unit]) -> list[_Unit]:
    """Order new migrations so that models exist before other apps point at them.

    When two apps' new migrations point at each other's new models, the first one is split: the
    part that creates its models goes first, the relations that close the cycle go last.
    """
    ordered: list[_Unit] = []
    pending = list(units)
    while pending:
        providers = {key: unit for unit in pending for key in unit.creates()}
        ready = next(
            (u for u in pending if all(providers.get(r, u) is u for r in u.references())), None
        )
        if ready is not None:
            pending.remove(ready)
            ordered.append(ready)
            continue
        unit = pending[0]
        cut = next(
            i
            for i, op in enumerate(unit.operations)
            if _Unit(unit.app, [op]).references() & set(providers)
        )
        if cut == 0:
            raise StateError(
                f"the new migrations of apps {', '.join(sorted({u.app for u in pending}))} "
                "point at each other's new models in a way that cannot be split; run "
                "makemigrations for one app first, then for the other"
            )
        pending[0] = _Unit(unit.app, unit.operations[:cut])
        pending.append(_Unit(unit.app, unit.operations[cut:]))
    return ordered


def _dependencies(project: Project, unit: _Unit, written: list[_Unit]) -> list[Key]:
    def latest(app: str) -> Key | None:
        mine = [u for u in written if u.app == app]
        return (app, mine[-1].name) if mine else project.graph.leaf(app)

    deps: list[Key] = []
    if (own := latest(unit.app)) is not None:
        deps.append(own)
    for other, model in sorted(unit.references()):
        dep = latest(other)
        if dep is None:
            raise StateError(
                f"app {unit.app!r} refers to {other}.{model}, which has no migration yet; "
                f"run makemigrations for {other!r} too"
            )
        deps.append(dep)
    return list(dict.fromkeys(deps))


def _render(
    project: Project, unit: _Unit, deps: list[Key], initial: bool, empty: bool
) -> NewMigration:
    ops = unit.operations
    if empty:
        source = data_migration_stub(deps, initial=initial)
    else:
        source = render_migration(
            describe_operations(ops),
            deps,
            ops,
            initial=initial,
            atomic=unit.atomic,
            atomic_reason=CONCURRENTLY_REASON,
        )
    path = project.config.migrations_dir / unit.app / f"{unit.name}.py"
    return NewMigration(unit.app, unit.name, path, ops, source)


async def makemigrations(
    config: MarchConfig,
    apps: list[str] | None = None,
    *,
    name: str | None = None,
    empty: bool = False,
    check: bool = False,
    dry_run: bool = False,
    merge: bool = False,
    update: bool = False,
    questioner: Questioner | None = None,
) -> MakeMigrationsResult:
    """Write the migrations that bring the files in line with the models.

    With ``merge=True`` write only merge migrations for apps whose history has two leaves; with
    ``update=True`` fold the changes into each app's latest migration instead of a new one.
    """
    if update and (merge or empty or name):
        raise GraphError(
            "--update cannot be combined with --merge, --empty or --name (the updated "
            "migration keeps its name)"
        )
    async with open_project(config) as project:
        for app in apps or []:
            project.check_app(app)
        if name is not None and not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise GraphError(f"--name {name!r}: use letters, digits and _ only")
        if not project.models.models and not project.graph.nodes:
            return MakeMigrationsResult(message=NO_TRACKED)
        selected = sorted(apps or project.apps)
        if merge:
            result = _merges(project, selected, name, questioner or Questioner())
            _write(result, check or dry_run)
            return result
        for app in selected:
            project.graph.leaf(app)
        old = replay(project.graph, project.graph.nodes)
        if empty:
            changes = Changes(operations={app: [] for app in selected})
        else:
            # detect_changes moves the state it is given on; keep ``old`` as the files build it
            changes = detect_changes(old.clone(), project.models, set(selected), questioner)
        result = MakeMigrationsResult()
        units = [_Unit(app, ops) for app, ops in sorted(changes.operations.items()) if ops or empty]
        units, refused = _without_vendored(project, units)
        differences = [difference(u.app, op) for u in units for op in u.operations]
        if update:
            result = await _updates(project, _order_units(units))
            result.message = "\n".join([*refused, result.message]).strip()
            result.differences = differences
            _write(result, check or dry_run)
            return result
        written: list[_Unit] = []
        parts: list[_Unit] = []
        for unit in _order_units(units):
            unit.operations = optimize(unit.operations, unit.app)
            safe = (
                not empty and config.safe_defaults and project.editor(unit.app).supports_not_valid
            )
            parts += safe_parts(unit, old, project.editor(unit.app).quote) if safe else [unit]
        state = old.clone()
        for unit in parts:
            initial = project.graph.leaf(unit.app) is None and not any(
                u.app == unit.app for u in written
            )
            number = next_number(project, unit.app) + sum(u.app == unit.app for u in written)
            label = name or ("custom" if empty else suggest_name(unit.operations, initial))
            deps = _dependencies(project, unit, written)
            unit.name = f"{number:04d}_{label}"
            written.append(unit)
            made = _render(project, unit, deps, initial, empty)
            key = (unit.app, unit.name)
            made.findings = summarised(
                lint_operations(
                    key,
                    unit.operations,
                    state,
                    atomic=unit.atomic,
                    exclude=config.lint_exclude,
                    target=target_of(project, unit.app),
                ).findings
            )
            for operation in unit.operations:
                operation.state_forwards(unit.app, state)
            result.migrations.append(made)
        if not result.migrations:
            result.message = "No changes detected"
        result.message = "\n".join([*refused, result.message] if refused else [result.message])
        result.differences = differences
        _write(result, check or dry_run)
        return result


def _without_vendored(project: Project, units: list[_Unit]) -> tuple[list[_Unit], list[str]]:
    """Return the units of the project's own apps, and one line for each vendored app that
    would have had a migration (its migrations come from the library, never from here)."""
    vendored = project.config.vendored_dirs
    refused = [
        f"{unit.app}: {'the models changed, but ' if unit.operations else ''}its migrations are "
        f"vendored ({vendored[unit.app]}) and come from the library; nothing written for it "
        "(upgrade the library, or undo the change to its models)"
        for unit in units
        if unit.app in vendored
    ]
    return [unit for unit in units if unit.app not in vendored], refused


async def _updates(project: Project, units: list[_Unit]) -> MakeMigrationsResult:
    """Fold each unit into its app's latest migration, which no known database may have applied."""
    result = MakeMigrationsResult(message="" if units else "No changes detected")
    if len({u.app for u in units}) != len(units):
        raise StateError(
            "these changes need two migrations in one app (new models of two apps point at each "
            "other); run makemigrations without --update"
        )
    applied = await project.applied([u.app for u in units]) if units else {}
    for unit in units:
        leaf = project.graph.leaf(unit.app)
        if leaf is None:
            raise GraphError(
                f"app {unit.app!r} has no migration to update; run makemigrations without --update"
            )
        node = project.loaded[leaf]
        label = f"{unit.app}.{leaf[1]}"
        if leaf in applied:
            raise HistoryError(
                f"cannot update {label}: database connection "
                f"{project.connection_name(unit.app)!r} has applied it; write a new migration "
                f"(drop --update), or first unapply it with `migrate {unit.app} <previous>`"
            )
        if node.replaces:
            raise GraphError(f"cannot update {label}: it is a squash; write a new migration")
        later = set(project.graph.descendants(leaf))
        deps = [d for d in _dependencies(project, unit, []) if d != leaf]
        if any(d in later for d in deps):
            raise StateError(
                f"cannot update {label}: it would depend on migrations that depend on it; run "
                "makemigrations without --update"
            )
        operations = optimize(node.operations + unit.operations, unit.app)
        generated = ast.get_docstring(ast.parse(node.source), clean=False)
        docstring = (
            describe_operations(operations)
            if generated == describe_operations(node.operations)
            else None
        )
        new_deps = [d for d in deps if d not in node.dependencies]
        edit = Update(operations, new_deps, docstring)
        source = update_module(node.path, node.source, node.operations, edit)
        made = NewMigration(unit.app, leaf[1], node.path, operations, source, updated=True)
        before = replay(project.graph, [k for k in project.graph.topological([leaf]) if k != leaf])
        made.findings = summarised(
            lint_operations(
                leaf,
                operations,
                before,
                atomic=node.atomic,
                exclude=project.config.lint_exclude,
                target=target_of(project, unit.app),
            ).findings
        )
        result.migrations.append(made)
    return result


def safe_parts(unit: _Unit, old: ProjectState, quote: Callable[[str], str]) -> list[_Unit]:
    """Split one new migration into its safe forms for tables that already exist: indexes (and
    those of unique constraints) built and dropped CONCURRENTLY (a non-atomic migration of their
    own); CHECKs and foreign keys added NOT VALID; NOT NULL proven by a CHECK (col IS NOT NULL)
    NOT VALID first; and their validation in a following migration. Extensions dropped go
    last, after whatever used them."""
    main: list[Operation] = []
    concurrent: list[Operation] = []
    validate: list[Operation] = []
    dropped: list[Operation] = []
    removed = {(op.model, op.name) for op in unit.operations if isinstance(op, RemoveField)}
    for op in unit.operations:
        model = getattr(op, "model", None)
        if isinstance(op, DropExtension):
            dropped.append(op)
        elif model is None or (unit.app, model) not in old.models:
            main.append(op)
        elif isinstance(op, RemoveIndex) and _loses_field(
            op, old.models[(unit.app, model)], removed
        ):
            main.append(op)  # its column goes in this migration: the index must go first
        elif isinstance(op, (AddIndex, RemoveIndex)):
            op.concurrently = True
            concurrent.append(op)
        elif isinstance(op, AddConstraint) and op.constraint.kind == "unique":
            op.concurrently = True
            concurrent.append(op)
        elif isinstance(op, AddConstraint) and op.constraint.kind == "check":
            op.not_valid = True
            main.append(op)
            validate.append(ValidateConstraint(model, name=op.constraint.name))
        elif isinstance(op, AddField) and op.field.is_fk and op.field.db_constraint:
            op.not_valid = True
            main.append(op)
            validate.append(ValidateConstraint(model, field=op.name))
        elif isinstance(op, AlterField) and _becomes_not_null(op, old.models[(unit.app, model)]):
            table = old.models[(unit.app, model)]
            column = table.get_field(op.name).column(op.name)
            check = fields.CheckConstraint(
                check=f"{quote(column)} IS NOT NULL",
                name=derived_name("nn", table.table, [column]),
            )
            main.append(AddConstraint(model, check, not_valid=True))
            validate += [
                ValidateConstraint(model, name=check.name),
                op,
                RemoveConstraint(model, check.name),
            ]
        else:
            main.append(op)
    parts = [_Unit(unit.app, main), _Unit(unit.app, concurrent, atomic=False)]
    parts.append(_Unit(unit.app, validate))
    parts = [part for part in parts if part.operations]
    if dropped:
        if parts and parts[-1].atomic:
            parts[-1].operations += dropped
        else:
            parts.append(_Unit(unit.app, dropped))
    return parts


def _becomes_not_null(op: AlterField, model: ModelState) -> bool:
    """Return whether ``op`` makes a nullable column NOT NULL with no rows to fill (filling
    them, from a one-off value or the default, rewrites them anyway: the plain form stays)."""
    if not model.has_field(op.name) or op.fills_nulls:
        return False
    before = model.get_field(op.name)
    return before.null and not op.field.null and not before.is_m2m and not op.field.primary_key


def _loses_field(op: RemoveIndex, model: ModelState, removed: set[tuple[str, str]]) -> bool:
    """Return whether the index ``op`` removes names a field removed in the same migration."""
    index = next((i for i in model.indexes if index_name(model, i) == op.name), None)
    return index is not None and any((model.name, f) in removed for f in index.field_names)


def _write(result: MakeMigrationsResult, dry: bool) -> None:
    if dry:
        return
    for item in result.migrations:
        item.path.parent.mkdir(parents=True, exist_ok=True)
        item.path.write_text(item.source, encoding="utf-8")


def _branch(project: Project, leaf: Key, others: list[Key]) -> list[Operation]:
    shared = {k for other in others for k in project.graph.topological([other])}
    mine = [k for k in project.graph.topological([leaf]) if k not in shared]
    return [op for key in mine for op in project.loaded[key].operations]


def _merges(
    project: Project, apps: list[str], name: str | None, questioner: Questioner
) -> MakeMigrationsResult:
    result = MakeMigrationsResult()
    for app in apps:
        leaves = project.graph.leaves(app)
        if len(leaves) < 2:
            continue
        if project.is_vendored(app):
            raise GraphError(
                f"app {app!r} has conflicting migrations ({', '.join(n for _, n in leaves)}), "
                f"but they are vendored ({project.config.vendored_dirs[app]}) and come from the "
                "library: nothing written; upgrade the library or report it to its authors"
            )
        overlap = conflicts(
            [touched(_branch(project, leaf, [o for o in leaves if o != leaf])) for leaf in leaves]
        )
        names = ", ".join(n for _, n in leaves)
        if overlap and not questioner.confirm(
            f"The branches {names} of {app!r} both change {', '.join(overlap)}. Merge anyway? "
            "[y/N] ",
            f"merging {names} (both change {', '.join(overlap)})",
        ):
            raise GraphError(
                f"not merging {names}: both change {', '.join(overlap)}; reconcile the "
                "migrations by hand (or answer y to merge anyway)"
            )
        label = name or "merge_" + "_".join(n for _, n in leaves)
        if len(label) > MAX_NAME:
            label = "merge"
        full = f"{next_number(project, app):04d}_{label}"
        source = render_migration(f"Merge {names}.", leaves, [])
        path = project.config.migrations_dir / app / f"{full}.py"
        result.migrations.append(NewMigration(app, full, path, [], source))
    if not result.migrations:
        result.message = "No conflicts to merge"
    return result
