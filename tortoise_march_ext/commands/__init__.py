"""The Python API behind each CLI verb. Returns result objects; raises MarchError.

``cli`` only parses arguments and prints what these return.
"""

from __future__ import annotations

from ..autodetect.questioner import Questioner
from ..config import MarchConfig, load_config
from ..lint import Finding, LintReport
from .adopt import AdoptedApp, AdoptRefused, AdoptResult, adopt
from .lint import lint, lint_migration
from .make import NO_TRACKED, MakeMigrationsResult, NewMigration, make_questioner, makemigrations
from .migrate import MigrateResult, ShowEntry, check, migrate, showmigrations, sqlmigrate
from .schema_check import SchemaCheckResult, check_schema
from .squash import SquashResult, squashmigrations

__all__ = [
    "NO_TRACKED",
    "AdoptRefused",
    "AdoptResult",
    "AdoptedApp",
    "Finding",
    "LintReport",
    "MakeMigrationsResult",
    "MarchConfig",
    "MigrateResult",
    "NewMigration",
    "Questioner",
    "SchemaCheckResult",
    "ShowEntry",
    "SquashResult",
    "adopt",
    "check",
    "check_schema",
    "lint",
    "lint_migration",
    "load_config",
    "make_questioner",
    "makemigrations",
    "migrate",
    "showmigrations",
    "sqlmigrate",
    "squashmigrations",
]
