"""What migration files import: ``from tortoise_march_ext import migrations``.

The :class:`Migration` base class and every operation, under one short name.
"""

from __future__ import annotations

from typing import ClassVar

from . import operations
from .operations import *  # noqa: F403 - migration files use migrations.<Operation>
from .operations import Operation

__all__ = [*operations.__all__, "Migration"]


class Migration:
    """Base class of every migration module's ``Migration``.

    ``dependencies`` lists ``(app, name)`` pairs that must be applied first; ``operations`` the
    steps; ``initial`` marks an app's first migration; ``atomic`` runs it in one transaction;
    ``replaces`` lists the ``(app, name)`` pairs a squashed migration stands in for.
    ``lock_timeout``/``statement_timeout`` (seconds or ``"2s"``) and ``lock_retries`` override
    the ``db_*`` settings of the config for this migration (PostgreSQL).
    """

    dependencies: ClassVar[list[tuple[str, str]]] = []
    operations: ClassVar[list[Operation]] = []
    initial: ClassVar[bool] = False
    atomic: ClassVar[bool] = True
    replaces: ClassVar[list[tuple[str, str]]] = []
    lock_timeout: ClassVar[str | float | None] = None
    statement_timeout: ClassVar[str | float | None] = None
    lock_retries: ClassVar[int | None] = None
