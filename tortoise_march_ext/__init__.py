"""tortoise-march-ext: readable, reliable migrations for Tortoise ORM.

Public API only; see ``__all__``. Importing the package installs the drift check around
``Tortoise.init`` (:func:`install`; :func:`uninstall` removes it).
"""

from __future__ import annotations

from ._version import __version__
from .config import MarchConfig
from .declare import (
    ExclusionConstraint,
    FieldRef,
    Index,
    PostgresExtension,
    RawSQL,
    UniqueConstraint,
)
from .exceptions import MarchDriftError, MarchDriftWarning, MarchError, PendingMigrations
from .meta import Meta
from .runtime import signals
from .runtime.drift import DriftReport, check, install, uninstall
from .runtime.ensure import MigrationReport, ensure_migrated
from .runtime.lifespan import lifespan

install()

__all__ = [
    "DriftReport",
    "ExclusionConstraint",
    "FieldRef",
    "Index",
    "MarchConfig",
    "MarchDriftError",
    "MarchDriftWarning",
    "MarchError",
    "Meta",
    "MigrationReport",
    "PendingMigrations",
    "PostgresExtension",
    "RawSQL",
    "UniqueConstraint",
    "__version__",
    "check",
    "ensure_migrated",
    "install",
    "lifespan",
    "signals",
    "uninstall",
]
