"""RunPython: data migrations in Python, given historical models.

``forwards``/``backwards`` are plain or async callables taking ``(apps)`` or
``(apps, connection)``; ``apps.get_model("app.Model")`` returns the model as it was at that point of
the history. They run inside the migration's transaction (unless ``atomic=False``).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..backends.base import SchemaEditor
from ..schema.historical import HistoricalApps, isolated_statement_cache
from ..schema.state import ProjectState
from .base import Operation


@dataclass
class PythonCall:
    """A Python step among a migration's statements: the executor awaits it on the connection."""

    function: Callable[..., Any]
    state: ProjectState

    async def run(self, connection: Any, connection_for: Callable[[str], str]) -> None:
        """Call the function with historical apps (and the connection when it takes two)."""
        apps = HistoricalApps(self.state, {app: connection_for(app) for app in self.state.apps})
        takes = len(inspect.signature(self.function).parameters)
        with isolated_statement_cache(apps.tables):
            result = self.function(apps, connection) if takes >= 2 else self.function(apps)
            if inspect.isawaitable(result):
                await result

    def __str__(self) -> str:
        return f"-- RunPython: {getattr(self.function, '__qualname__', self.function)} (Python)"


class RunPython(Operation):
    """Run Python code; irreversible unless ``backwards`` is given."""

    def __init__(
        self,
        forwards: Callable[..., Any],
        backwards: Callable[..., Any] | None = None,
        atomic: bool = True,
    ) -> None:
        self.forwards = forwards
        self.backwards = backwards
        self.atomic = atomic

    @property
    def reversible(self) -> bool:  # type: ignore[override]
        """Return whether a backwards function was given."""
        return self.backwards is not None

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the arguments, leaving out the defaults."""
        kwargs: dict[str, Any] = {"forwards": self.forwards}
        if self.backwards is not None:
            kwargs["backwards"] = self.backwards
        if not self.atomic:
            kwargs["atomic"] = False
        return "RunPython", kwargs

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Python code does not change the model state."""

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Return the forwards call, bound to a snapshot of the state at this point."""
        return [PythonCall(self.forwards, to_state.clone())]

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[Any]:
        """Return the backwards call, bound to the state before this point."""
        return [PythonCall(self.backwards, from_state.clone())] if self.backwards else []

    def describe(self) -> str:
        """Describe the operation."""
        name = getattr(self.forwards, "__name__", None) or getattr(self.forwards, "name", "")
        return f"Run Python code {name}"

    @property
    def name_fragment(self) -> str:
        """Return ``run_python``."""
        return "run_python"
