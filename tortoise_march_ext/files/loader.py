"""Load migration modules from ``<location>/<app>/*.py``: import, validate, checksum.

Vendored apps (``include_locations``) keep their migration modules directly in their own folder
(``vendor/billing/migrations/0001_initial.py``, the layout of one app folder under ``location``);
they load under their label as the app and are marked ``vendored``.

Every problem names the file and says how to fix it. The checksum (``files/checksum.py``) is the
SHA-256 of the module's canonical token stream, so comments and formatting do not change it but
code does, and no Python release changes it.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import duration
from ..exceptions import ConfigError, MigrationFileError
from ..migrations import Migration
from ..operations import Operation
from .checksum import checksum

Key = tuple[str, str]
NAME_RE = re.compile(r"^[A-Za-z0-9_]+$")
# Other tools' migration modules, told apart by what they define or import (never imported).
_AERICH = re.compile(r"^async def upgrade\(\s*db\b|^MODELS_STATE\s*=", re.MULTILINE)
_BUILTIN = re.compile(
    r"^from tortoise(\.migrations)? import (migrations|operations)\b|^from tortoise\.migrations\.",
    re.MULTILINE,
)


@dataclass
class LoadedMigration:
    """One migration module, loaded and checked."""

    app: str
    name: str
    path: Path
    migration: type[Migration]
    source: str = field(repr=False)
    vendored: bool = False
    _checksum: str | None = field(default=None, repr=False)

    @property
    def checksum(self) -> str:
        """Return the checksum of the module's code (computed on first use)."""
        if self._checksum is None:
            self._checksum = checksum(self.source)
        return self._checksum

    @property
    def key(self) -> Key:
        """Return ``(app, name)``."""
        return self.app, self.name

    @property
    def dependencies(self) -> list[Key]:
        """Return the ``(app, name)`` pairs this migration depends on."""
        return [tuple(d) for d in self.migration.dependencies]  # type: ignore[misc]

    def setting(self, name: str) -> Any:
        """Return a per-migration setting (``lock_timeout``...), None when the file has none."""
        return getattr(self.migration, name, None)

    @property
    def replaces(self) -> list[Key]:
        """Return the migrations a squashed migration replaces (empty for the others)."""
        return [tuple(r) for r in self.migration.replaces]  # type: ignore[misc]

    @property
    def operations(self) -> list[Operation]:
        """Return the operations."""
        return list(self.migration.operations)

    @property
    def atomic(self) -> bool:
        """Return whether the migration runs in one transaction."""
        return bool(getattr(self.migration, "atomic", True))

    def __str__(self) -> str:
        return f"{self.app}:{self.name}" if self.vendored else f"{self.app}.{self.name}"


def source_reader(location: Path) -> Callable[[Key], str | None]:
    """Return a function that reads the source of migration ``(app, name)`` under ``location``
    (None when the file is missing or unreadable)."""

    def read(key: Key) -> str | None:
        try:
            return (location / key[0] / f"{key[1]}.py").read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            return None

    return read


def migration_files(folder: Path) -> list[Path]:
    """Return the migration modules in one app folder, sorted by name."""
    if not folder.is_dir():
        return []
    return sorted(
        p for p in folder.iterdir() if p.suffix == ".py" and not p.name.startswith(("_", "."))
    )


def load_file(app: str, path: Path) -> LoadedMigration:
    """Import one migration module and check its shape."""
    name = path.stem
    if not NAME_RE.match(name):
        raise MigrationFileError(
            f"{path}: invalid migration name {name!r}; rename it to letters, digits and _",
            path=str(path),
        )
    source = path.read_text(encoding="utf-8")
    _refuse_foreign(path, source)
    try:
        code = compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise MigrationFileError(
            f"{path}:{exc.lineno}: syntax error ({exc.msg}); fix the file or delete it if it was "
            "never applied",
            path=str(path),
        ) from exc
    module = types.ModuleType(f"tortoise_march_ext.loaded.{app}.{name}")
    module.__file__ = str(path)
    try:
        exec(code, module.__dict__)
    except Exception as exc:
        raise MigrationFileError(
            f"{path}: importing the migration raised {type(exc).__name__}: {exc}", path=str(path)
        ) from exc
    migration = getattr(module, "Migration", None)
    if not (isinstance(migration, type) and issubclass(migration, Migration)):
        raise MigrationFileError(
            f"{path}: no Migration class; a migration module must define "
            "`class Migration(migrations.Migration)`",
            path=str(path),
        )
    _check_shape(path, migration)
    _check_settings(path, migration)
    replaces = migration.replaces
    if not _pairs(replaces) or any(r[0] != app for r in replaces):
        raise MigrationFileError(
            f'{path}: replaces must be a sequence of ("{app}", "migration_name") pairs of its '
            "own app",
            path=str(path),
        )
    return LoadedMigration(app, name, path, migration, source)


def foreign_tool(source: str) -> str | None:
    """Return whose migration module ``source`` is when another tool wrote it (aerich's
    ``async def upgrade(db)`` / ``MODELS_STATE``, Tortoise's built-in ``from tortoise import
    migrations``), else None."""
    if "tortoise_march_ext" in source:
        return None
    if _AERICH.search(source):
        return "aerich"
    if _BUILTIN.search(source):
        return "Tortoise's built-in migrations"
    return None


def _refuse_foreign(path: Path, source: str) -> None:
    tool = foreign_tool(source)
    if tool is None:
        return
    raise MigrationFileError(
        f"{path}: this is a migration of {tool}, not of tortoise_march_ext; the folder "
        f"{path.parent} holds {tool}'s files: set another `location` for "
        'tortoise_march_ext in its config (e.g. location = "march_migrations" in '
        "[tool.tortoise_march_ext]) and leave this folder to that tool",
        path=str(path),
    )


def _pairs(value: object) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(d, (list, tuple)) and len(d) == 2 and all(isinstance(x, str) for x in d)
        for d in value
    )


def _check_settings(path: Path, migration: type[Migration]) -> None:
    try:
        for name in ("lock_timeout", "statement_timeout"):
            migration_duration = duration(getattr(migration, name), f"{path}: {name}")
            setattr(migration, name, migration_duration)
    except ConfigError as exc:
        raise MigrationFileError(str(exc), path=str(path)) from exc
    retries = migration.lock_retries
    if retries is not None and (
        isinstance(retries, bool) or not isinstance(retries, int) or retries < 0
    ):
        raise MigrationFileError(
            f"{path}: lock_retries must be a whole number, 0 or more (or left out)",
            path=str(path),
        )


def _check_shape(path: Path, migration: type[Migration]) -> None:
    if not _pairs(migration.dependencies):
        raise MigrationFileError(
            f'{path}: dependencies must be a sequence of ("app", "migration_name") pairs',
            path=str(path),
        )
    ops = migration.operations
    if not isinstance(ops, (list, tuple)) or not all(isinstance(o, Operation) for o in ops):
        raise MigrationFileError(
            f"{path}: operations must be a sequence of migrations.* operations", path=str(path)
        )


def load_migrations(
    location: Path,
    apps: Iterable[str] | None = None,
    vendored: Mapping[str, Path] | None = None,
) -> dict[Key, LoadedMigration]:
    """Load every migration under ``location`` and of the ``vendored`` apps (label -> folder),
    or only those of ``apps``."""
    wanted = set(apps) if apps is not None else None
    folders: list[tuple[str, Path, bool]] = []
    if location.is_dir():
        folders = [
            (p.name, p, False)
            for p in sorted(location.iterdir())
            if p.is_dir() and not p.name.startswith(("_", "."))
        ]
    folders += [(label, folder, True) for label, folder in sorted((vendored or {}).items())]
    loaded: dict[Key, LoadedMigration] = {}
    for app, folder, is_vendored in folders:
        if wanted is not None and app not in wanted:
            continue
        for path in migration_files(folder):
            item = load_file(app, path)
            item.vendored = is_vendored
            loaded[item.key] = item
    return loaded
