"""Field-level operations: AddField, RemoveField, AlterField, RenameField."""

from __future__ import annotations

from typing import Any

from ..backends.base import SchemaEditor
from ..schema.state import (
    NOT_PROVIDED,
    FieldState,
    ModelState,
    ProjectState,
)
from ..schema.tables import resolve_table
from .base import Footprint, ModelOperation, Operation, drop_false, sync_model


def _fill(field: FieldState, name: str, one_off: Any = NOT_PROVIDED) -> dict[str, Any]:
    """Return ``{column: value}`` for the rows that need a value when ``field`` is NOT NULL."""
    value = one_off if one_off is not NOT_PROVIDED else field.default
    if field.null or field.is_m2m or value is NOT_PROVIDED:
        return {}
    return {field.column(name): value}


class FieldOperation(ModelOperation):
    """An operation on one field of one model."""

    model: str
    name: str

    def target(self, app: str, state: ProjectState) -> ModelState:
        """Return the model this operation changes."""
        return state.get_model(app, self.model)

    def same_field(self, other: Operation) -> bool:
        """Return whether ``other`` works on the same field of the same model."""
        return isinstance(other, FieldOperation) and (other.model, other.name) == (
            self.model,
            self.name,
        )

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the arguments; a one-off ``fill`` only when given."""
        name, kwargs = super().deconstruct()
        if kwargs.get("fill", None) is NOT_PROVIDED:
            del kwargs["fill"]
        return name, kwargs

    def footprint(self, app: str) -> Footprint | None:
        """Read the model (and a relation's target); write the field, or the whole model when
        the field is a primary key (other tables' foreign keys follow its type)."""
        label = f"{app}.{self.model}"
        field: FieldState | None = self.__dict__.get("field")
        reads = {(label, "")}
        if field is not None and field.is_relation and field.to:
            reads.add((field.to, ""))
        names = {self.__dict__.get("old_name", self.name), self.name}
        if field is not None and field.primary_key:
            return Footprint(frozenset(reads), frozenset({(label, None)}))
        return Footprint(frozenset(reads), frozenset((label, n) for n in names))

    def existing_field(self, app: str, state: ProjectState) -> FieldState | None:
        """Return the field in ``state``, or None when the model or field is not there."""
        model = state.models.get((app, self.model))
        return model.get_field(self.name) if model and model.has_field(self.name) else None


class AddField(FieldOperation):
    """Add a field; existing rows get ``fill`` (a one-off value) or the field's static default.

    A foreign key with ``not_valid=True`` gets its constraint NOT VALID (PostgreSQL): existing
    rows are checked later by ``ValidateConstraint(model, field=name)``.
    """

    def __init__(
        self,
        model: str,
        name: str,
        field: FieldState,
        fill: Any = NOT_PROVIDED,
        not_valid: bool = False,
    ) -> None:
        self.model = model
        self.name = name
        self.field = field
        self.fill = fill
        self.not_valid = not_valid

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the arguments; ``fill`` and ``not_valid`` only when given."""
        return drop_false(*super().deconstruct(), "not_valid")

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Add the column; a NOT VALID foreign key is added as a separate constraint."""
        if not (self.not_valid and self.field.is_fk and editor.supports_not_valid):
            return super().database_forwards(app, editor, from_state, to_state)
        bare = to_state.clone()
        model = bare.get_model(app, self.model)
        bare.put_model(model.with_field(self.name, self.field.with_changes(db_constraint=False)))
        out = super().database_forwards(app, editor, from_state, bare)
        table = resolve_table(to_state, to_state.get_model(app, self.model))
        column = next(c for c in table.columns if c.name == self.field.column(self.name))
        return out + editor.add_foreign_key_not_valid(table.name, column)

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Append the field."""
        model = self.target(app, state)
        if model.has_field(self.name):
            raise_exists(model, self.name)
        state.put_model(model.with_field(self.name, self.field))

    def fills(self, app: str, before: ProjectState, after: ProjectState) -> dict[str, Any]:
        """Fill existing rows with the one-off value or the field's static default."""
        field = self.existing_field(app, after)
        return _fill(field, self.name, self.fill) if field else {}

    def describe(self) -> str:
        """Describe the operation."""
        return f"Add field {self.name} to {self.model}"

    @property
    def name_fragment(self) -> str:
        """Return ``<model>_<field>``."""
        return f"{self.model.lower()}_{self.name.lower()}"

    def reduce(self, other: Operation, app: str) -> list[Operation] | bool:
        """Fold a following AlterField or RenameField into this one, a RemoveField into nothing."""
        if self.same_field(other):
            if isinstance(other, AlterField):
                return [AddField(self.model, self.name, other.field, self.fill, self.not_valid)]
            if isinstance(other, RemoveField):
                return []
        if isinstance(other, RenameField) and (other.model, other.old_name) == (
            self.model,
            self.name,
        ):
            return [AddField(self.model, other.new_name, self.field, self.fill, self.not_valid)]
        return super().reduce(other, app)


class RemoveField(FieldOperation):
    """Remove a field and drop its column (or its through table)."""

    def __init__(self, model: str, name: str) -> None:
        self.model = model
        self.name = name

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Drop the field from the model and from its table-level options."""
        model = self.target(app, state)
        state.put_model(
            model.without_field(self.name).with_changes(
                unique_together=tuple(g for g in model.unique_together if self.name not in g),
                indexes=tuple(i for i in model.indexes if self.name not in i.field_names),
                constraints=tuple(c for c in model.constraints if self.name not in c.field_names),
            )
        )

    def fills(self, app: str, before: ProjectState, after: ProjectState) -> dict[str, Any]:
        """When undone, fill the restored column with the field's static default."""
        field = self.existing_field(app, after)
        return _fill(field, self.name) if field else {}

    def describe(self) -> str:
        """Describe the operation."""
        return f"Remove field {self.name} from {self.model}"

    @property
    def name_fragment(self) -> str:
        """Return ``remove_<model>_<field>``."""
        return f"remove_{self.model.lower()}_{self.name.lower()}"


class AlterField(FieldOperation):
    """Change a field's definition; NULLs get ``fill`` or the default when it becomes NOT NULL."""

    def __init__(self, model: str, name: str, field: FieldState, fill: Any = NOT_PROVIDED) -> None:
        self.model = model
        self.name = name
        self.field = field
        self.fill = fill

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Replace the field."""
        model = self.target(app, state)
        model.get_field(self.name)
        state.put_model(model.with_field(self.name, self.field))

    def renames(self, app: str, before: ProjectState, after: ProjectState) -> dict[str, str]:
        """Rename the column when ``source_field`` changed."""
        old = before.get_model(app, self.model).get_field(self.name).column(self.name)
        new = after.get_model(app, self.model).get_field(self.name).column(self.name)
        return {new: old} if old != new else {}

    @property
    def fills_nulls(self) -> bool:
        """Return whether NULLs get a value (the one-off fill or the static default) when the
        field becomes NOT NULL."""
        return bool(_fill(self.field, self.name, self.fill))

    def fills(self, app: str, before: ProjectState, after: ProjectState) -> dict[str, Any]:
        """Fill NULLs with the static default when the field becomes NOT NULL."""
        old = before.get_model(app, self.model).get_field(self.name)
        new = after.get_model(app, self.model).get_field(self.name)
        return _fill(new, self.name, self.fill) if old.null and not new.null else {}

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Alter the column, then the columns of other tables that follow its type."""
        out = super().database_forwards(app, editor, from_state, to_state)
        return out + _follow_references(app, self.model, editor, from_state, to_state)

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Restore the column, then the columns of other tables that follow its type."""
        out = super().database_backwards(app, editor, from_state, to_state)
        return out + _follow_references(app, self.model, editor, to_state, from_state)

    def describe(self) -> str:
        """Describe the operation."""
        return f"Alter field {self.name} on {self.model}"

    @property
    def name_fragment(self) -> str:
        """Return ``alter_<model>_<field>``."""
        return f"alter_{self.model.lower()}_{self.name.lower()}"

    def reduce(self, other: Operation, app: str) -> list[Operation] | bool:
        """Keep only the last of consecutive AlterFields; fold a RemoveField into it."""
        if self.same_field(other) and isinstance(other, (AlterField, RemoveField)):
            return [other]
        return super().reduce(other, app)


class RenameField(FieldOperation):
    """Rename a field; its column follows unless ``source_field`` pins it."""

    def __init__(self, model: str, old_name: str, new_name: str) -> None:
        self.model = model
        self.old_name = old_name
        self.new_name = new_name

    @property
    def name(self) -> str:  # type: ignore[override]
        """Return the field's new name."""
        return self.new_name

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Rename the field everywhere the model mentions it."""
        model = self.target(app, state)
        if model.has_field(self.new_name):
            raise_exists(model, self.new_name)
        model.get_field(self.old_name)
        swap = self._swap
        fields = tuple(
            (
                self.new_name if n == self.old_name else n,
                s.with_changes(source_fields=swap(s.source_fields)) if s.source_fields else s,
            )
            for n, s in model.fields
        )
        state.put_model(
            model.with_changes(
                fields=fields,
                unique_together=tuple(swap(g) for g in model.unique_together),
                indexes=tuple(
                    i.with_field_renamed(self.old_name, self.new_name) for i in model.indexes
                ),
                constraints=tuple(
                    c.with_field_renamed(self.old_name, self.new_name) for c in model.constraints
                ),
            )
        )

    def _swap(self, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(self.new_name if n == self.old_name else n for n in names)

    def renames(self, app: str, before: ProjectState, after: ProjectState) -> dict[str, str]:
        """Rename the column when it follows the field name."""
        old = before.get_model(app, self.model).get_field(self.old_name).column(self.old_name)
        new = after.get_model(app, self.model).get_field(self.new_name).column(self.new_name)
        return {new: old} if old != new else {}

    def field_renames(self) -> dict[str, str]:
        """Pair the field's through table across the rename."""
        return {self.new_name: self.old_name}

    def describe(self) -> str:
        """Describe the operation."""
        return f"Rename field {self.old_name} on {self.model} to {self.new_name}"

    @property
    def name_fragment(self) -> str:
        """Return ``rename_<old>_<model>_<new>``."""
        return f"rename_{self.old_name.lower()}_{self.model.lower()}_{self.new_name.lower()}"


def _follow_references(
    app: str, model: str, editor: SchemaEditor, before: ProjectState, after: ProjectState
) -> list[str]:
    """Return the changes of tables whose foreign keys take their type from ``model``."""
    label = f"{app}.{model}"
    out: list[str] = []
    others = sorted({(m.app, m.name) for m, _, _ in after.relations_to(label)} - {(app, model)})
    for key in others:
        out += sync_model(editor, (before, before.models.get(key)), (after, after.models.get(key)))
    return out


def raise_exists(model: ModelState, name: str) -> None:
    """Raise StateError for a field that already exists."""
    from ..exceptions import StateError

    raise StateError(f"{model.label} already has a field {name!r}")
