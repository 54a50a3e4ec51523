"""The questioner: what the autodetector asks a person (renames, one-off defaults).

The default questioner answers every question with the safe "no"; interactive questioners plug in
through the same methods.
"""

from __future__ import annotations

from ..schema.state import FieldState


class Questioner:
    """Answers the autodetector's questions without asking anybody."""

    def ask_rename_field(self, model: str, old: str, new: str, field: FieldState) -> bool:
        """Return whether field ``old`` of ``model`` was renamed to ``new``."""
        return False

    def ask_rename_model(self, app: str, old: str, new: str) -> bool:
        """Return whether model ``old`` was renamed to ``new``."""
        return False
