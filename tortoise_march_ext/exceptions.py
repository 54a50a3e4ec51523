"""The MarchError hierarchy, the drift warning and the CLI exit codes.

::

    MarchError                      exit 2 unless stated
    ├── ConfigError                 missing/invalid config, config path that does not import
    ├── MigrationFileError          a migration module that cannot be loaded or is malformed
    ├── GraphError                  missing dependency, cycle, conflicting leaves, bad target
    ├── DatabaseError               the database cannot be reached or is in a bad state
    ├── HistoryError                applied migration whose file is missing or changed
    ├── StateError                  a migration asks for something the state cannot do
    ├── SerializationError          a value that cannot be written into a migration file
    ├── LockTimeout                 another process held the migration lock too long
    ├── PendingMigrations           exit 1: ensure_migrated(check_only=True) found work to do
    ├── MarchDriftError             exit 1: on_drift = "error" and the models drifted
    └── MigrationFailed             exit 3: a migration raised while being applied
    MarchDriftWarning               models differ from the migration files (runtime)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FOUND = 1
EXIT_USAGE = 2
EXIT_FAILED = 3


class MarchError(Exception):
    """Base class of every error tortoise-march-ext raises on purpose."""

    exit_code: int = EXIT_USAGE


class ConfigError(MarchError):
    """The configuration is missing, invalid or points at something that does not import."""


class MigrationFileError(MarchError):
    """A migration module cannot be imported or does not have the expected shape."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class GraphError(MarchError):
    """The migration graph is inconsistent, or a target cannot be resolved in it."""


class DatabaseError(MarchError):
    """The database cannot be reached, or its recorder is in a state we cannot use."""


class HistoryError(MarchError):
    """An applied migration's file is missing or its code changed since it was applied."""


class StateError(MarchError):
    """An operation refers to a model, field, index or constraint the state does not have."""


class SerializationError(MarchError):
    """A value cannot be written into a migration file."""


class LockTimeout(DatabaseError):
    """The migration lock was not obtained within ``lock_timeout`` seconds."""


class PendingMigrations(MarchError):
    """Migrations are pending and the caller asked only to check."""

    exit_code = EXIT_FOUND

    def __init__(self, message: str, *, pending: list[str]) -> None:
        super().__init__(message)
        self.pending = pending


class MarchDriftError(MarchError):
    """The tracked models differ from the migration files and ``on_drift = "error"``."""

    exit_code = EXIT_FOUND


class MigrationFailed(MarchError):
    """A migration raised while being applied or unapplied; nothing of it was kept."""

    exit_code = EXIT_FAILED

    def __init__(
        self, message: str, *, migration: str | None = None, statement: str | None = None
    ) -> None:
        super().__init__(message)
        self.migration = migration
        self.statement = statement


class MarchDriftWarning(UserWarning):
    """The tracked models differ from the state the migration files build."""
