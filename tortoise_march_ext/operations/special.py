"""Operations that carry hand-written SQL: RunSQL."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..backends.base import SchemaEditor
from ..schema.state import ProjectState
from .base import Operation


def _statements(sql: str | Sequence[str]) -> list[str]:
    return [sql] if isinstance(sql, str) else list(sql)


class RunSQL(Operation):
    """Run SQL as written; irreversible unless ``reverse_sql`` is given."""

    def __init__(
        self, sql: str | Sequence[str], reverse_sql: str | Sequence[str] | None = None
    ) -> None:
        self.sql = sql
        self.reverse_sql = reverse_sql

    @property
    def reversible(self) -> bool:  # type: ignore[override]
        """Return whether a reverse was given."""
        return self.reverse_sql is not None

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the arguments, leaving out a missing reverse."""
        kwargs: dict[str, Any] = {"sql": self.sql}
        if self.reverse_sql is not None:
            kwargs["reverse_sql"] = self.reverse_sql
        return "RunSQL", kwargs

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """SQL does not change the model state."""

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Return the SQL."""
        return _statements(self.sql)

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Return the reverse SQL."""
        return _statements(self.reverse_sql or [])

    def describe(self) -> str:
        """Describe the operation."""
        return "Raw SQL operation"

    @property
    def name_fragment(self) -> str:
        """Return ``run_sql``."""
        return "run_sql"
