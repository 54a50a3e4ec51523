"""Table-level options: indexes, constraints and unique_together."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from ..exceptions import StateError
from ..schema.state import ConstraintState, IndexState, ProjectState
from ..schema.tables import index_name
from .base import ModelOperation


class AddIndex(ModelOperation):
    """Add a ``Meta.indexes`` entry."""

    def __init__(self, model: str, index: IndexState) -> None:
        self.model = model
        self.index = index

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Append the index."""
        model = state.get_model(app, self.model)
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


class RemoveIndex(ModelOperation):
    """Remove the index called ``name`` (its own name or the one derived for it)."""

    def __init__(self, model: str, name: str) -> None:
        self.model = model
        self.name = name

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
    """Add a ``Meta.constraints`` entry."""

    def __init__(self, model: str, constraint: ConstraintState) -> None:
        self.model = model
        self.constraint = constraint

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Append the constraint."""
        model = state.get_model(app, self.model)
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
