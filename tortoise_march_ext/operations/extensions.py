"""PostgreSQL extensions an app declares: CreateExtension and DropExtension.

An extension is recorded per app in the state. CREATE EXTENSION IF NOT EXISTS makes declaring
it in several apps harmless; DROP EXTENSION runs only when no other app still declares it, and
without CASCADE, so it fails rather than take anything that still uses it along.
"""

from __future__ import annotations

from typing import Any

from ..backends.base import SchemaEditor
from ..exceptions import StateError
from ..schema.state import ProjectState
from .base import Operation


class _Extension(Operation):
    def __init__(self, name: str) -> None:
        self.name = name

    def _create(self, app: str, state: ProjectState) -> None:
        if self.name in state.app_extensions(app):
            raise StateError(f"app {app} already declares extension {self.name!r}")
        state.extensions.add((app, self.name))

    def _drop(self, app: str, state: ProjectState) -> None:
        if self.name not in state.app_extensions(app):
            raise StateError(f"app {app} declares no extension {self.name!r}")
        state.extensions.discard((app, self.name))

    def _drop_sql(self, app: str, editor: SchemaEditor, without: ProjectState) -> list[Any]:
        """Drop the extension unless another app in ``without`` still declares it."""
        if without.extension_used_elsewhere(app, self.name):
            return []
        return editor.drop_extension(self.name)


class CreateExtension(_Extension):
    """Install a PostgreSQL extension (CREATE EXTENSION IF NOT EXISTS); nothing elsewhere."""

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Record the extension for ``app``."""
        self._create(app, state)

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Create the extension."""
        return editor.create_extension(self.name)

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Drop the extension unless another app still declares it."""
        return self._drop_sql(app, editor, from_state)

    def describe(self) -> str:
        """Describe the operation."""
        return f"Create extension {self.name}"

    @property
    def name_fragment(self) -> str:
        """Return ``extension_<name>``."""
        return f"extension_{self.name.lower()}"


class DropExtension(_Extension):
    """Drop a PostgreSQL extension no model of the app declares any more (unless another app
    still declares it)."""

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Forget the extension for ``app``."""
        self._drop(app, state)

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Drop the extension unless another app still declares it."""
        return self._drop_sql(app, editor, to_state)

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Create the extension again."""
        return editor.create_extension(self.name)

    def describe(self) -> str:
        """Describe the operation."""
        return f"Drop extension {self.name}"

    @property
    def name_fragment(self) -> str:
        """Return ``drop_extension_<name>``."""
        return f"drop_extension_{self.name.lower()}"
