"""The Python API behind each CLI verb. Returns result objects; raises MarchError.

``cli`` only parses arguments and prints what these return.
"""

from __future__ import annotations

from ..autodetect.questioner import Questioner
from ..config import MarchConfig, load_config
from .make import MakeMigrationsResult, NewMigration, make_questioner, makemigrations
from .migrate import MigrateResult, ShowEntry, check, migrate, showmigrations, sqlmigrate
from .squash import SquashResult, squashmigrations

__all__ = [
    "MakeMigrationsResult",
    "MarchConfig",
    "MigrateResult",
    "NewMigration",
    "Questioner",
    "ShowEntry",
    "SquashResult",
    "check",
    "load_config",
    "make_questioner",
    "makemigrations",
    "migrate",
    "showmigrations",
    "sqlmigrate",
    "squashmigrations",
]
