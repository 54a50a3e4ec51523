"""Field-level operations: AddField, RemoveField, AlterField, RenameField."""

from __future__ import annotations

from typing import Any

from ..backends.base import SchemaEditor
from ..backends.fills import row_fill
from ..schema.state import (
    NOT_PROVIDED,
    CallableRef,
    FieldState,
    ModelState,
    ProjectState,
)
from ..schema.tables import resolve_table
from .base import Footprint, ModelOperation, Operation, drop_false, sync_model
from .primary_keys import move_primary_key, pk_of


def _fill(field: FieldState, name: str, one_off: Any = NOT_PROVIDED) -> dict[str, Any]:
    """Return ``{column: value}`` for the rows that need a value when ``field`` is NOT NULL."""
    value = one_off if one_off is not NOT_PROVIDED else field.default
    if field.null or field.is_m2m or value is NOT_PROVIDED:
        return {}
    return {field.column(name): value}


def _fill_nulls(field: FieldState, name: str, one_off: Any = NOT_PROVIDED) -> dict[str, Any]:
    """Return ``{column: value}`` for the NULLs of a column that becomes NOT NULL: the one-off
    value, else the database default (its SQL, as Django fills them), else the static default."""
    if one_off is NOT_PROVIDED and field.db_default is not NOT_PROVIDED and not field.null:
        return {field.column(name): field.db_default}
    return _fill(field, name, one_off)


def _calls(fills: dict[str, Any]) -> dict[str, CallableRef]:
    """Return the fills that are callable defaults: each row gets its own call, so the column
    is changed nullable, filled row by row, then made NOT NULL (on every backend alike)."""
    return {c: v for c, v in fills.items() if isinstance(v, CallableRef)}


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

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Change the table; a callable default fills its rows one call each (see _calls)."""
        calls = _calls(self.fills(app, from_state, to_state))
        if not calls:
            return super().database_forwards(app, editor, from_state, to_state)
        middle = self._nullable(app, to_state)
        out = super().database_forwards(app, editor, from_state, middle)
        return out + self._fill_then_finish(app, editor, middle, to_state, calls)

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Restore the table; a callable default fills the restored column one call per row."""
        calls = _calls(self.fills(app, to_state, from_state))
        if not calls:
            return super().database_backwards(app, editor, from_state, to_state)
        middle = self._nullable(app, from_state)
        out = super().database_backwards(app, editor, middle, to_state)
        return out + self._fill_then_finish(app, editor, middle, from_state, calls)

    def _nullable(self, app: str, state: ProjectState) -> ProjectState:
        """Return ``state`` with this field nullable: the column a callable fill works on."""
        middle = state.clone()
        model = middle.get_model(app, self.model)
        field = model.get_field(self.name)
        middle.put_model(model.with_field(self.name, field.with_changes(null=True)))
        return middle

    def _fill_then_finish(
        self,
        app: str,
        editor: SchemaEditor,
        middle: ProjectState,
        final: ProjectState,
        calls: dict[str, CallableRef],
    ) -> list[Any]:
        """Fill the NULLs of the nullable column one call per row, then make it NOT NULL."""
        model = middle.get_model(app, self.model)
        table = resolve_table(middle, model)
        out: list[Any] = [row_fill(editor, table, c, ref) for c, ref in calls.items()]
        return out + sync_model(editor, (middle, model), (final, final.get_model(app, self.model)))

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
        """Add the column; a NOT VALID foreign key is added as a separate constraint; a new
        primary key takes the references of the old one with it."""
        if self._moves_primary_key(app, from_state):
            fills = self.fills(app, from_state, to_state)
            return move_primary_key(app, self.model, editor, from_state, to_state, fills)
        if not (self.not_valid and self.field.is_fk and editor.supports_not_valid):
            return super().database_forwards(app, editor, from_state, to_state)
        bare = to_state.clone()
        model = bare.get_model(app, self.model)
        bare.put_model(model.with_field(self.name, self.field.with_changes(db_constraint=False)))
        out = super().database_forwards(app, editor, from_state, bare)
        table = resolve_table(to_state, to_state.get_model(app, self.model))
        column = next(c for c in table.columns if c.name == self.field.column(self.name))
        return out + editor.add_foreign_key_not_valid(table.name, column)

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Drop the column; a primary key hands the references back to the old one."""
        if self._moves_primary_key(app, from_state):
            return move_primary_key(app, self.model, editor, to_state, from_state, {})
        return super().database_backwards(app, editor, from_state, to_state)

    def _moves_primary_key(self, app: str, before: ProjectState) -> bool:
        model = before.models.get((app, self.model))
        return bool(self.field.primary_key and model and pk_of(model))

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Append the field; a new primary key takes over from the model's current one, which
        stays as a plain column (a model has one primary key at every step)."""
        model = self.target(app, state)
        if model.has_field(self.name):
            raise_exists(model, self.name)
        old_pk = pk_of(model) if self.field.primary_key else None
        if old_pk is not None:
            plain = model.get_field(old_pk).with_changes(primary_key=False, generated=False)
            model = model.with_field(old_pk, plain)
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
        """Return whether NULLs get a value (the one-off fill, the database default or the
        static default) when the field becomes NOT NULL."""
        return bool(_fill_nulls(self.field, self.name, self.fill))

    def fills(self, app: str, before: ProjectState, after: ProjectState) -> dict[str, Any]:
        """Fill NULLs (one-off value, database default, static default) when the field
        becomes NOT NULL."""
        old = before.get_model(app, self.model).get_field(self.name)
        new = after.get_model(app, self.model).get_field(self.name)
        return _fill_nulls(new, self.name, self.fill) if old.null and not new.null else {}

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Check for NULLs nothing fills, alter the column, then the columns of other tables
        that follow its type."""
        out = self._null_check(app, editor, from_state, to_state)
        out += super().database_forwards(app, editor, from_state, to_state)
        return out + _follow_references(app, self.model, editor, from_state, to_state)

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Restore the column (checked for NULLs first), then the columns that follow it."""
        out = self._null_check(app, editor, to_state, from_state)
        out += super().database_backwards(app, editor, from_state, to_state)
        return out + _follow_references(app, self.model, editor, to_state, from_state)

    def _null_check(
        self, app: str, editor: SchemaEditor, before: ProjectState, after: ProjectState
    ) -> list[Any]:
        """Return the check that no row holds NULL when the column becomes NOT NULL and nothing
        (a one-off value, the default, the database default) fills the NULLs. A CHECK (col IS
        NOT NULL) already on the table (``safe_defaults`` validates one first) proves it."""
        old, new = self.existing_field(app, before), self.existing_field(app, after)
        if old is None or new is None or not old.null or new.null or new.is_m2m:
            return []
        if self.fills(app, before, after) or new.db_default is not NOT_PROVIDED:
            return []
        model = before.get_model(app, self.model)
        column = old.column(self.name)
        proof = f"{editor.quote(column)} IS NOT NULL"
        if any(c.kind == "check" and c.check == proof for c in model.constraints):
            return []
        return [editor.null_check(resolve_table(before, model).name, column)]

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
        """Rename the field everywhere the model mentions it, and in every relation that
        targets it through ``to_field``."""
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
        state.rename_field_references(f"{app}.{self.model}", self.old_name, self.new_name)

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
