"""Model-level operations: CreateModel, DeleteModel, RenameModel, AlterModelTable."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backends.base import SchemaEditor
from ..schema.state import ConstraintState, FieldState, IndexState, ModelState, ProjectState
from .base import Footprint, ModelOperation, Operation


class CreateModel(ModelOperation):
    """Create a model's table (and the through tables of its ManyToMany fields)."""

    def __init__(
        self,
        name: str,
        table: str,
        fields: Sequence[tuple[str, FieldState]],
        indexes: Sequence[IndexState] = (),
        unique_together: Sequence[Sequence[str]] = (),
        constraints: Sequence[ConstraintState] = (),
        description: str | None = None,
    ) -> None:
        self.name = name
        self.table = table
        self.fields: list[tuple[str, FieldState]] = [(name, state) for name, state in fields]
        self.indexes = list(indexes)
        self.unique_together = [tuple(group) for group in unique_together]
        self.constraints = list(constraints)
        self.description = description

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the arguments, leaving out empty options."""
        kwargs: dict[str, Any] = {"name": self.name, "table": self.table, "fields": self.fields}
        for key in ("indexes", "unique_together", "constraints", "description"):
            if getattr(self, key):
                kwargs[key] = getattr(self, key)
        return "CreateModel", kwargs

    @classmethod
    def from_state(cls, model: ModelState) -> CreateModel:
        """Return the CreateModel that builds ``model``."""
        return cls(
            model.name,
            model.table,
            model.fields,
            model.indexes,
            model.unique_together,
            model.constraints,
            model.description,
        )

    def footprint(self, app: str) -> Footprint | None:
        """Write the model; read the models its relations point at."""
        targets = {(state.to, "") for _, state in self.fields if state.is_relation and state.to}
        return Footprint(frozenset(targets), frozenset({(f"{app}.{self.name}", None)}))

    def model_state(self, app: str) -> ModelState:
        """Return the ModelState this operation creates."""
        return ModelState(
            app=app,
            name=self.name,
            table=self.table,
            fields=tuple(self.fields),
            indexes=tuple(self.indexes),
            unique_together=tuple(self.unique_together),
            constraints=tuple(self.constraints),
            description=self.description,
        )

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Add the model, once its indexes and constraints name only its own fields."""
        model = self.model_state(app)
        items: tuple[IndexState | ConstraintState, ...] = (*model.indexes, *model.constraints)
        for item in items:
            model.check_names(item)
        state.add_model(model)

    def describe(self) -> str:
        """Describe the operation."""
        return f"Create model {self.name}"

    @property
    def name_fragment(self) -> str:
        """Return the model name."""
        return self.name.lower()

    def reduce(self, other: Operation, app: str) -> list[Operation] | bool:
        """Fold a following DeleteModel of the model into nothing, and any other change of the
        model (fields, options, table, a rename) into the CreateModel."""
        if isinstance(other, DeleteModel) and other.name == self.name:
            return []
        if isinstance(other, RenameModel) and other.old_name == self.name:
            new_name = other.new_name
        elif (
            isinstance(other, ModelOperation)
            and not isinstance(other, (CreateModel, DeleteModel))
            and other.names() == (self.name, self.name)
        ):
            new_name = self.name
        else:
            return super().reduce(other, app)
        scratch = ProjectState()
        self.state_forwards(app, scratch)
        other.state_forwards(app, scratch)
        return [CreateModel.from_state(scratch.get_model(app, new_name))]


class DeleteModel(ModelOperation):
    """Drop a model's table and its through tables."""

    def __init__(self, name: str) -> None:
        self.name = name

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Remove the model."""
        state.remove_model(app, self.name)

    def describe(self) -> str:
        """Describe the operation."""
        return f"Delete model {self.name}"

    @property
    def name_fragment(self) -> str:
        """Return ``delete_<model>``."""
        return f"delete_{self.name.lower()}"


class RenameModel(Operation):
    """Rename a model in the state; its table is kept (AlterModelTable changes tables)."""

    def __init__(self, old_name: str, new_name: str) -> None:
        self.old_name = old_name
        self.new_name = new_name

    def footprint(self, app: str) -> Footprint | None:
        """Write both names (every relation pointing at the model changes too)."""
        names = (self.old_name, self.new_name)
        return Footprint(frozenset(), frozenset((f"{app}.{n}", None) for n in names))

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Rename the model and repoint every relation at it."""
        model = state.remove_model(app, self.old_name)
        state.add_model(model.with_changes(name=self.new_name))
        old_label, new_label = f"{app}.{self.old_name}", f"{app}.{self.new_name}"
        for other, field_name, field in list(state.relations_to(old_label)):
            current = state.get_model(other.app, other.name)
            state.put_model(current.with_field(field_name, field.with_changes(to=new_label)))

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Nothing changes in the database."""
        return []

    database_backwards = database_forwards

    def describe(self) -> str:
        """Describe the operation."""
        return f"Rename model {self.old_name} to {self.new_name}"

    @property
    def name_fragment(self) -> str:
        """Return ``rename_<old>_<new>``."""
        return f"rename_{self.old_name.lower()}_{self.new_name.lower()}"


class AlterModelTable(ModelOperation):
    """Rename a model's table."""

    def __init__(self, name: str, table: str) -> None:
        self.name = name
        self.table = table

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Set the new table name."""
        state.put_model(state.get_model(app, self.name).with_changes(table=self.table))

    def describe(self) -> str:
        """Describe the operation."""
        return f"Rename table of {self.name} to {self.table}"

    @property
    def name_fragment(self) -> str:
        """Return ``alter_<model>_table``."""
        return f"alter_{self.name.lower()}_table"


class AlterModelDescription(ModelOperation):
    """Change a model's table description (a table comment where the backend has them)."""

    def __init__(self, name: str, description: str | None) -> None:
        self.name = name
        self.description = description

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Set the new description."""
        model = state.get_model(app, self.name)
        state.put_model(model.with_changes(description=self.description))

    def describe(self) -> str:
        """Describe the operation."""
        return f"Alter description of {self.name}"

    @property
    def name_fragment(self) -> str:
        """Return ``alter_<model>_description``."""
        return f"alter_{self.name.lower()}_description"
