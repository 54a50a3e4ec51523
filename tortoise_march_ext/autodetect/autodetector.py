"""The autodetector: a pure diff from the state the files build to the state the models declare.

It runs an explicit pipeline of ``generate_*`` steps over sorted differences, so the same models
always give the same operations in the same order:

0. models renamed (asked when a removed and an added model have the same fields up to renamed
   ones), then fields renamed (asked, inside a renamed model too), so the rest of the diff sees
   them under their new names (an index or constraint on a renamed field stays as it is);
1. indexes/constraints/unique groups that go away (before their fields do; named ones that only
   changed name are renamed, when confirmed), then tables renamed;
2. models created, ordered so referenced tables exist first; relations closing a cycle are
   deferred to AddField after every table exists;
3. fields removed, added, altered; deferred relations;
4. models deleted (referencing ones first);
5. unique groups, indexes and constraints that are new.

PostgreSQL extensions an app starts declaring come first (before anything can use them); those
it stops declaring come last (after whatever used them is gone).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from ..operations import (
    AddConstraint,
    AddField,
    AddIndex,
    AlterField,
    AlterModelDescription,
    AlterModelTable,
    AlterUniqueTogether,
    CreateExtension,
    CreateModel,
    DeleteModel,
    DropExtension,
    Operation,
    RemoveConstraint,
    RemoveField,
    RemoveIndex,
    RenameConstraint,
    RenameField,
    RenameIndex,
    RenameModel,
)
from ..schema.state import NOT_PROVIDED, CallableRef, FieldState, ModelState, ProjectState
from ..schema.tables import index_name
from .questioner import Questioner

Key = tuple[str, str]
Field = tuple[str, str, str]


@dataclass
class Changes:
    """Operations per app."""

    operations: dict[str, list[Operation]] = field(default_factory=dict)

    def add(self, app: str, operation: Operation) -> None:
        """Append an operation to ``app``'s list."""
        self.operations.setdefault(app, []).append(operation)


class Autodetector:
    """Diff ``old`` (from the files) against ``new`` (from the models)."""

    def __init__(
        self, old: ProjectState, new: ProjectState, questioner: Questioner | None = None
    ) -> None:
        self.old = old
        self.new = new
        self.questioner = questioner or Questioner()
        self.changes = Changes()
        self.deferred: list[tuple[str, str, str, FieldState]] = []
        self.local_defaults: dict[Field, str] = {}

    def changes_for(self, apps: set[str]) -> Changes:
        """Return the operations that turn ``old`` into ``new`` for ``apps``."""
        self.new, self.local_defaults = _without_local_defaults(self.new)
        self.generate_extensions(apps, CreateExtension, self.new, self.old)
        self.generate_renamed_models(apps)
        old_keys = {k for k in self.old.models if k[0] in apps}
        new_keys = {k for k in self.new.models if k[0] in apps}
        kept = sorted(old_keys & new_keys)
        self.generate_renamed_fields(kept)
        self.generate_removed_options(kept)
        self.generate_altered_tables(kept)
        self.generate_created_models(sorted(new_keys - old_keys))
        for key in kept:
            self.generate_field_changes(key)
        for app, model, name, state in self.deferred:
            self.changes.add(app, AddField(model=model, name=name, field=state))
        self.generate_added_options_of_created()
        self.generate_deleted_models(sorted(old_keys - new_keys))
        self.generate_added_options(kept)
        self.generate_extensions(apps, DropExtension, self.old, self.new)
        return self.changes

    # -- extensions: created before anything else, dropped after everything ------------------
    def generate_extensions(
        self,
        apps: set[str],
        op: type[CreateExtension | DropExtension],
        having: ProjectState,
        lacking: ProjectState,
    ) -> None:
        """Emit ``op`` for each extension an app declares in ``having`` but not in ``lacking``."""
        for app in sorted(apps):
            for name in sorted(having.app_extensions(app) - lacking.app_extensions(app)):
                self.changes.add(app, op(name=name))

    # -- 0. renamed models -------------------------------------------------------------------
    def generate_renamed_models(self, apps: set[str]) -> None:
        """Emit RenameModel for a removed and an added model whose fields match up to renamed
        ones, if confirmed (the field renames are asked next, as in any kept model)."""
        removed = sorted(k for k in self.old.models if k[0] in apps and k not in self.new.models)
        added = sorted(k for k in self.new.models if k[0] in apps and k not in self.old.models)
        for app, new_name in added:
            for old_app, old_name in removed:
                if old_app != app or (app, old_name) not in self.old.models:
                    continue
                old, new = self.old.models[(app, old_name)], self.new.models[(app, new_name)]
                if _same_up_to_renames(old, new) and self.questioner.ask_rename_model(
                    app, old_name, new_name
                ):
                    operation = RenameModel(old_name=old_name, new_name=new_name)
                    self.old = self.old.clone()
                    operation.state_forwards(app, self.old)
                    self.changes.add(app, operation)
                    break

    def generate_renamed_fields(self, kept: list[Key]) -> None:
        """Emit RenameField for fields confirmed renamed, so that the indexes and constraints
        that name them compare equal under their new names."""
        for key in kept:
            app, name = key
            old, new = self.old.models[key], self.new.models[key]
            old_fields, new_fields = old.field_map, new.field_map
            removed = [n for n in old_fields if n not in new_fields]
            added = [n for n in new_fields if n not in old_fields]
            for old_name, new_name in self._renamed_fields(
                new, old_fields, new_fields, removed, added
            ):
                operation = RenameField(model=name, old_name=old_name, new_name=new_name)
                self.old = self.old.clone()
                operation.state_forwards(app, self.old)
                self.changes.add(app, operation)

    # -- 1. tables and options that go away -------------------------------------------------
    def generate_altered_tables(self, kept: list[Key]) -> None:
        """Emit AlterModelTable for models whose table name changed."""
        for app, name in kept:
            old, new = self.old.models[(app, name)], self.new.models[(app, name)]
            if old.table != new.table:
                self.changes.add(app, AlterModelTable(name=name, table=new.table))
            if old.description != new.description:
                self.changes.add(app, AlterModelDescription(name=name, description=new.description))

    def generate_removed_options(self, kept: list[Key]) -> None:
        """Emit removals of unique groups, indexes and constraints first."""
        for app, name in kept:
            old, new = self.old.models[(app, name)], self.new.models[(app, name)]
            remaining = tuple(g for g in old.unique_together if g in new.unique_together)
            if remaining != old.unique_together:
                self.changes.add(app, AlterUniqueTogether(model=name, unique_together=remaining))
            gone_indexes = self._renamed(app, name, old.indexes, new.indexes, "index")
            for index in sorted(gone_indexes, key=lambda i: index_name(old, i)):
                self.changes.add(app, RemoveIndex(model=name, name=index_name(old, index)))
            gone = self._renamed(app, name, old.constraints, new.constraints, "constraint")
            for constraint in sorted(gone, key=lambda c: c.name):
                self.changes.add(app, RemoveConstraint(model=name, name=constraint.name))

    def _renamed(self, app: str, model: str, old: Any, new: Any, kind: str) -> list[Any]:
        """Emit renames of named indexes/constraints; return the old ones that really go away."""
        gone = [item for item in old if item not in set(new)]
        for item in sorted((i for i in new if i not in set(old) and i.name), key=lambda i: i.name):
            match = next((g for g in gone if g.name and replace(g, name=item.name) == item), None)
            if match and self.questioner.ask_rename_index(app, model, match.name, item.name, kind):
                gone.remove(match)
                op = RenameIndex if kind == "index" else RenameConstraint
                self.changes.add(app, op(model=model, old_name=match.name, new_name=item.name))
                self.old.put_model(
                    _renamed_option(self.old.models[(app, model)], kind, match, item)
                )
        return gone

    # -- 2. created models ------------------------------------------------------------------
    def generate_created_models(self, created: list[Key]) -> None:
        """Emit CreateModel in dependency order, deferring relations to models not yet there."""
        available = set(self.old.models) | {k for k in self.new.models if k not in created}
        pending = list(created)
        while pending:
            key = next((k for k in pending if self._targets(k) <= available | {k}), pending[0])
            pending.remove(key)
            available.add(key)
            self._create(key, available)

    def _targets(self, key: Key) -> set[Key]:
        model = self.new.models[key]
        return {_key(f.to) for _, f in model.fields if f.is_relation and f.to}

    def _create(self, key: Key, available: set[Key]) -> None:
        app, name = key
        model = self.new.models[key]
        fields = []
        for field_name, state in model.fields:
            if state.is_relation and _key(state.to) not in available:
                self.deferred.append((app, name, field_name, state))
                continue
            fields.append((field_name, state))
        deferred = {n for a, m, n, _ in self.deferred if (a, m) == key}
        self.changes.add(
            app,
            CreateModel(
                name=name,
                table=model.table,
                fields=fields,
                indexes=[i for i in model.indexes if not deferred & set(i.field_names)],
                unique_together=[g for g in model.unique_together if not deferred & set(g)],
                constraints=[c for c in model.constraints if not deferred & set(c.field_names)],
                description=model.description,
            ),
        )

    def generate_added_options_of_created(self) -> None:
        """Emit the options of created models that waited for a deferred field."""
        keys = sorted({(a, m) for a, m, _, _ in self.deferred})
        for app, name in keys:
            model = self.new.models[(app, name)]
            deferred = {n for a, m, n, _ in self.deferred if (a, m) == (app, name)}
            if any(deferred & set(g) for g in model.unique_together):
                self.changes.add(
                    app, AlterUniqueTogether(model=name, unique_together=model.unique_together)
                )
            for index in model.indexes:
                if deferred & set(index.field_names):
                    self.changes.add(app, AddIndex(model=name, index=index))
            for constraint in model.constraints:
                if deferred & set(constraint.field_names):
                    self.changes.add(app, AddConstraint(model=name, constraint=constraint))

    # -- 3. fields --------------------------------------------------------------------------
    def generate_field_changes(self, key: Key) -> None:
        """Emit RemoveField, RenameField, AddField and AlterField for one kept model."""
        app, name = key
        old, new = self.old.models[key], self.new.models[key]
        old_fields, new_fields = old.field_map, new.field_map
        removed = [n for n in old_fields if n not in new_fields]
        added = [n for n in new_fields if n not in old_fields]
        # A new primary key is added first: it takes the references over from the old one
        # (which AddField keeps as a plain column), so the model has a primary key at every step.
        added.sort(key=lambda n: not new_fields[n].primary_key)
        while added and new_fields[added[0]].primary_key:
            state = new_fields[added[0]]
            fill = self._one_off(app, name, added[0], state, "is NOT NULL without a default")
            self.changes.add(app, AddField(model=name, name=added.pop(0), field=state, fill=fill))
        for field_name in removed:
            self.changes.add(app, RemoveField(model=name, name=field_name))
        for field_name in added:
            state = new_fields[field_name]
            fill = self._one_off(app, name, field_name, state, "is NOT NULL without a default")
            self.changes.add(app, AddField(model=name, name=field_name, field=state, fill=fill))
        for field_name in new_fields:
            before = old_fields.get(field_name)
            if before is not None and before != new_fields[field_name]:
                state = new_fields[field_name]
                fill = NOT_PROVIDED
                if before.null and not state.null and _needs_value(state):
                    fill = self._not_null_fill(app, name, field_name, state)
                self.changes.add(
                    app, AlterField(model=name, name=field_name, field=state, fill=fill)
                )

    def _not_null_fill(self, app: str, model: str, name: str, state: FieldState) -> Any:
        """Ask what the NULLs of a field made NOT NULL get; a default no file can name needs a
        one-off value (or the model changed), as for a new field."""
        if (app, model, name) in self.local_defaults:
            return self._one_off(app, model, name, state, "")
        return self.questioner.ask_not_null_alteration(app, model, name, state)

    def _one_off(self, app: str, model: str, name: str, state: FieldState, why: str) -> Any:
        """Ask for the value existing rows get when nothing else gives them one."""
        if not _needs_value(state):
            return NOT_PROVIDED
        local = self.local_defaults.get((app, model, name))
        if local is not None:
            why = (
                f"has a default ({local}) that a migration file cannot name: make it a "
                "module-level function (default=make_value), or give a one-off value"
            )
        return self.questioner.ask_fill(app, model, name, state, why)

    def _renamed_fields(
        self,
        model: ModelState,
        old_fields: dict[str, FieldState],
        new_fields: dict[str, FieldState],
        removed: list[str],
        added: list[str],
    ) -> list[tuple[str, str]]:
        renamed: list[tuple[str, str]] = []
        for new_name in added:
            for old_name in removed:
                if any(old_name == o for o, _ in renamed):
                    continue
                if _same_but_column(old_fields[old_name], new_fields[new_name], old_name, new_name):
                    if self.questioner.ask_rename_field(
                        model.app, model.name, old_name, new_name, new_fields[new_name]
                    ):
                        renamed.append((old_name, new_name))
                        break
        return renamed

    # -- 4. deleted models ------------------------------------------------------------------
    def generate_deleted_models(self, deleted: list[Key]) -> None:
        """Emit DeleteModel, referencing models first; cut relation cycles with RemoveField."""
        pending = list(deleted)
        while pending:
            blocked = {
                _key(f.to)
                for k in pending
                for _, f in self.old.models[k].fields
                if f.is_fk and _key(f.to) != k
            }
            key = next((k for k in pending if k not in blocked), None)
            if key is None:
                key = pending[0]
                for other in pending[1:]:
                    for field_name, state in self.old.models[other].fields:
                        if state.is_relation and _key(state.to) == key:
                            self.changes.add(other[0], RemoveField(model=other[1], name=field_name))
            pending.remove(key)
            self.changes.add(key[0], DeleteModel(name=key[1]))

    # -- 5. options that are new ------------------------------------------------------------
    def generate_added_options(self, kept: list[Key]) -> None:
        """Emit the final unique groups, then new indexes and constraints."""
        for app, name in kept:
            old, new = self.old.models[(app, name)], self.new.models[(app, name)]
            remaining = tuple(g for g in old.unique_together if g in new.unique_together)
            if new.unique_together != remaining:
                self.changes.add(
                    app, AlterUniqueTogether(model=name, unique_together=new.unique_together)
                )
            for index in sorted(
                set(new.indexes) - set(old.indexes), key=lambda i: index_name(new, i)
            ):
                self.changes.add(app, AddIndex(model=name, index=index))
            old_constraints = set(old.constraints)
            for constraint in sorted(new.constraints, key=lambda c: c.name):
                if constraint not in old_constraints:
                    self.changes.add(app, AddConstraint(model=name, constraint=constraint))


def _same_up_to_renames(old: ModelState, new: ModelState) -> bool:
    """Return whether two models have the same fields, but for fields that could be renamed:
    fields kept by name are equal, and each removed field pairs with one added field it could
    have been renamed to (a self-reference counts as the same)."""
    old_fields, new_fields = _normal_fields(old), _normal_fields(new)
    if any(old_fields[n] != new_fields[n] for n in old_fields.keys() & new_fields.keys()):
        return False
    removed = [n for n in old_fields if n not in new_fields]
    added = [n for n in new_fields if n not in old_fields]
    if len(removed) != len(added):
        return False
    for new_name in added:
        match = next(
            (
                o
                for o in removed
                if _same_but_column(old_fields[o], new_fields[new_name], o, new_name)
            ),
            None,
        )
        if match is None:
            return False
        removed.remove(match)
    return True


def _normal_fields(model: ModelState) -> dict[str, FieldState]:
    return {n: f.with_changes(to="self") if f.to == model.label else f for n, f in model.fields}


def _without_local_defaults(state: ProjectState) -> tuple[ProjectState, dict[Field, str]]:
    """Return ``state`` with the callable defaults a file cannot name (a lambda, a local
    function, a bound method) taken out, as files write them (no default), and those fields
    with the callable's name: rows that need a value from one get a question instead."""
    found: dict[Field, str] = {}
    out = state
    for (app, name), model in sorted(state.models.items()):
        for field_name, field_state in model.fields:
            default = field_state.default
            if isinstance(default, CallableRef) and not default.referable:
                found[(app, name, field_name)] = default.qualname.strip("<>")
                if out is state:
                    out = state.clone()
                model = model.with_field(field_name, field_state.with_changes(default=NOT_PROVIDED))
                out.put_model(model)
    return out, found


def _needs_value(state: FieldState) -> bool:
    """Return whether existing rows need a value for ``state`` that nothing else gives them."""
    if state.null or state.is_m2m or state.generated:
        return False
    return state.default is NOT_PROVIDED and state.db_default is NOT_PROVIDED


def _renamed_option(model: ModelState, kind: str, old: Any, new: Any) -> ModelState:
    if kind == "index":
        return model.with_changes(indexes=tuple(new if i == old else i for i in model.indexes))
    return model.with_changes(constraints=tuple(new if c == old else c for c in model.constraints))


def _key(label: str | None) -> Key:
    app, _, name = (label or "").partition(".")
    return app, name


def _same_but_column(old: FieldState, new: FieldState, old_name: str, new_name: str) -> bool:
    """Return whether ``new_name`` could be ``old_name`` renamed (a rename candidate): the same
    field but for its name and column, or a field that keeps the old column, whatever else
    changed (the rest becomes an AlterField after the RenameField, so the rows stay)."""
    if old.with_changes(source_field=None) == new.with_changes(source_field=None):
        return True
    if old.is_m2m or new.is_m2m:
        return False
    return old.column(old_name) == new.column(new_name)


def detect_changes(
    old: ProjectState,
    new: ProjectState,
    apps: set[str],
    questioner: Questioner | None = None,
) -> Changes:
    """Return the operations that bring ``old`` to ``new`` for ``apps``."""
    return Autodetector(old, new, questioner).changes_for(apps)
