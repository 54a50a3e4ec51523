"""Table-level options: indexes, constraints and unique_together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from ..backends.base import SchemaEditor
from ..exceptions import StateError
from ..schema.state import ConstraintState, IndexState, ProjectState
from ..schema.tables import index_name, resolve_table
from .base import ModelOperation, drop_false


class _Concurrently(ModelOperation):
    """An index operation that may build or drop its index without locking out writes."""

    model: str
    concurrently: bool = False
    creates = True  # whether forwards builds the index (AddIndex) or drops it (RemoveIndex)

    @property
    def atomic(self) -> bool:  # type: ignore[override]
        """Return False for CONCURRENTLY, which PostgreSQL refuses inside a transaction."""
        return not self.concurrently

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the arguments; ``concurrently`` only when set."""
        return drop_false(*super().deconstruct(), "concurrently")

    def index_name(self, app: str, with_index: ProjectState) -> str:
        """Return the name of the index, looked up in the state that has it."""
        raise NotImplementedError

    def _concurrent(
        self, app: str, editor: SchemaEditor, with_index: ProjectState, create: bool
    ) -> list[Any]:
        table = resolve_table(with_index, with_index.get_model(app, self.model))
        name = self.index_name(app, with_index)
        index = next(i for i in table.indexes if i.name == name)
        if create:
            return editor.create_index_concurrently(table.name, index)
        return editor.drop_index_concurrently(table.name, index)

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Build or drop the index (concurrently when asked)."""
        if not self.concurrently:
            return super().database_forwards(app, editor, from_state, to_state)
        state = to_state if self.creates else from_state
        return self._concurrent(app, editor, state, create=self.creates)

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Undo: drop or build the index again (concurrently when asked)."""
        if not self.concurrently:
            return super().database_backwards(app, editor, from_state, to_state)
        state = to_state if self.creates else from_state
        return self._concurrent(app, editor, state, create=not self.creates)


class AddIndex(_Concurrently):
    """Add a ``Meta.indexes`` entry (``concurrently=True``: CREATE INDEX CONCURRENTLY)."""

    def __init__(self, model: str, index: IndexState, concurrently: bool = False) -> None:
        self.model = model
        self.index = index
        self.concurrently = concurrently

    def index_name(self, app: str, with_index: ProjectState) -> str:
        """Return the index's own name or the one derived for it."""
        return index_name(with_index.get_model(app, self.model), self.index)

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Append the index."""
        model = state.get_model(app, self.model)
        model.check_names(self.index)
        state.put_model(model.with_changes(indexes=(*model.indexes, self.index)))

    def describe(self) -> str:
        """Describe the operation."""
        label = self.index.name or ", ".join(self.index.fields or self.index.expressions)
        return f"Add index {label} on {self.model}"

    @property
    def name_fragment(self) -> str:
        """Return ``<model>_<fields or name>``."""
        label = self.index.name or "_".join(self.index.fields) or "expr"
        return f"{self.model.lower()}_{label.lower()}"


class RemoveIndex(_Concurrently):
    """Remove the index called ``name`` (its own name or the one derived for it);
    ``concurrently=True``: DROP INDEX CONCURRENTLY."""

    def __init__(self, model: str, name: str, concurrently: bool = False) -> None:
        self.model = model
        self.name = name
        self.concurrently = concurrently

    creates = False

    def index_name(self, app: str, with_index: ProjectState) -> str:
        """Return the name given."""
        return self.name

    def names(self) -> tuple[str, str]:
        """Return the model name."""
        return self.model, self.model

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Drop the index."""
        model = state.get_model(app, self.model)
        kept = tuple(i for i in model.indexes if index_name(model, i) != self.name)
        if len(kept) == len(model.indexes):
            raise StateError(f"{model.label} has no index {self.name!r}")
        state.put_model(model.with_changes(indexes=kept))

    def describe(self) -> str:
        """Describe the operation."""
        return f"Remove index {self.name} from {self.model}"

    @property
    def name_fragment(self) -> str:
        """Return ``remove_<model>_<index>``."""
        return f"remove_{self.model.lower()}_{self.name.lower()}"


class AddConstraint(ModelOperation):
    """Add a ``Meta.constraints`` entry. On PostgreSQL, a CHECK with ``not_valid=True`` skips the
    existing rows (NOT VALID) until a later ValidateConstraint checks them, and a unique
    constraint with ``concurrently=True`` builds its index CONCURRENTLY first (outside a
    transaction), then attaches it (``ADD CONSTRAINT ... UNIQUE USING INDEX``)."""

    def __init__(
        self,
        model: str,
        constraint: ConstraintState,
        not_valid: bool = False,
        concurrently: bool = False,
    ) -> None:
        self.model = model
        self.constraint = constraint
        self.not_valid = not_valid
        self.concurrently = concurrently

    @property
    def atomic(self) -> bool:  # type: ignore[override]
        """Return False for CONCURRENTLY, which PostgreSQL refuses inside a transaction."""
        return not self.concurrently

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the arguments; ``not_valid`` and ``concurrently`` only when set."""
        return drop_false(*super().deconstruct(), "not_valid", "concurrently")

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Add the constraint (NOT VALID, or over a concurrently built index, when asked and
        the backend has it)."""
        kind = self.constraint.kind
        table = resolve_table(to_state, to_state.get_model(app, self.model))
        if self.concurrently and kind == "unique" and editor.supports_concurrently:
            return editor.add_unique_concurrently(table, self.constraint.name)
        if self.not_valid and kind == "check" and editor.supports_not_valid:
            check = next(c for c in table.checks if c.name == self.constraint.name)
            return editor.add_check_not_valid(table.name, check)
        return super().database_forwards(app, editor, from_state, to_state)

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Append the constraint."""
        model = state.get_model(app, self.model)
        model.check_names(self.constraint)
        if any(c.name == self.constraint.name for c in model.constraints):
            raise StateError(f"{model.label} already has a constraint {self.constraint.name!r}")
        state.put_model(model.with_changes(constraints=(*model.constraints, self.constraint)))

    def describe(self) -> str:
        """Describe the operation."""
        return f"Add constraint {self.constraint.name} on {self.model}"

    @property
    def name_fragment(self) -> str:
        """Return ``<model>_<constraint>``."""
        return f"{self.model.lower()}_{self.constraint.name.lower()}"


class RemoveConstraint(ModelOperation):
    """Remove the constraint called ``name``."""

    def __init__(self, model: str, name: str) -> None:
        self.model = model
        self.name = name

    def names(self) -> tuple[str, str]:
        """Return the model name."""
        return self.model, self.model

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Drop the constraint."""
        model = state.get_model(app, self.model)
        kept = tuple(c for c in model.constraints if c.name != self.name)
        if len(kept) == len(model.constraints):
            raise StateError(f"{model.label} has no constraint {self.name!r}")
        state.put_model(model.with_changes(constraints=kept))

    def describe(self) -> str:
        """Describe the operation."""
        return f"Remove constraint {self.name} from {self.model}"

    @property
    def name_fragment(self) -> str:
        """Return ``remove_<model>_<constraint>``."""
        return f"remove_{self.model.lower()}_{self.name.lower()}"


class AlterUniqueTogether(ModelOperation):
    """Set ``Meta.unique_together``."""

    def __init__(self, model: str, unique_together: Sequence[Sequence[str]]) -> None:
        self.model = model
        self.unique_together = [tuple(group) for group in unique_together]

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Replace the unique groups."""
        model = state.get_model(app, self.model)
        state.put_model(model.with_changes(unique_together=tuple(self.unique_together)))

    def describe(self) -> str:
        """Describe the operation."""
        return f"Alter unique_together for {self.model} ({len(self.unique_together)} group(s))"

    @property
    def name_fragment(self) -> str:
        """Return ``alter_<model>_unique_together``."""
        return f"alter_{self.model.lower()}_unique_together"


class _RenameOption(ModelOperation):
    """Rename a named index or constraint of a model; its definition is kept."""

    kind = ""
    attribute = ""

    def __init__(self, model: str, old_name: str, new_name: str) -> None:
        self.model = model
        self.old_name = old_name
        self.new_name = new_name

    def names(self) -> tuple[str, str]:
        """Return the model name."""
        return self.model, self.model

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Rename the index or constraint."""
        model = state.get_model(app, self.model)
        items = getattr(model, self.attribute)
        if not any(item.name == self.old_name for item in items):
            raise StateError(f"{model.label} has no {self.kind} named {self.old_name!r}")
        renamed = tuple(
            replace(item, name=self.new_name) if item.name == self.old_name else item
            for item in items
        )
        state.put_model(model.with_changes(**{self.attribute: renamed}))

    def describe(self) -> str:
        """Describe the operation."""
        return f"Rename {self.kind} {self.old_name} on {self.model} to {self.new_name}"

    @property
    def name_fragment(self) -> str:
        """Return ``rename_<old>_<new>``."""
        return f"rename_{self.old_name.lower()}_{self.new_name.lower()}"


class RenameIndex(_RenameOption):
    """Rename a named index; its definition is kept."""

    kind = "index"
    attribute = "indexes"


class RenameConstraint(_RenameOption):
    """Rename a constraint; its definition is kept."""

    kind = "constraint"
    attribute = "constraints"


class ValidateConstraint(ModelOperation):
    """Check the existing rows against a constraint added NOT VALID (a CHECK by ``name``, a
    foreign key by its ``field``). Takes no lock that blocks writes; changes no state."""

    def __init__(self, model: str, name: str | None = None, field: str | None = None) -> None:
        if (name is None) == (field is None):
            raise StateError("ValidateConstraint needs name= (a CHECK) or field= (a foreign key)")
        self.model = model
        self.name = name
        self.field = field

    def names(self) -> tuple[str, str]:
        """Return the model name."""
        return self.model, self.model

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the arguments given."""
        kwargs = {k: v for k, v in self.__dict__.items() if v is not None}
        return "ValidateConstraint", kwargs

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Check that the model (and field) exist; nothing changes."""
        model = state.get_model(app, self.model)
        if self.field is not None:
            model.get_field(self.field)

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Return VALIDATE CONSTRAINT (nothing on backends without NOT VALID)."""
        if not editor.supports_not_valid:
            return []
        model = to_state.get_model(app, self.model)
        name = self.name
        if self.field is not None:
            name = editor.foreign_key_name(model.table, model.column_of(self.field))
        assert name is not None
        return editor.validate_constraint(model.table, name)

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Nothing to undo."""
        return []

    def describe(self) -> str:
        """Describe the operation."""
        what = self.name or f"foreign key {self.field}"
        return f"Validate constraint {what} on {self.model}"

    @property
    def name_fragment(self) -> str:
        """Return ``validate_<model>_<name>``."""
        return f"validate_{self.model.lower()}_{(self.name or self.field or '').lower()}"
