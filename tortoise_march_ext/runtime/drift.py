"""Drift: do the tracked models still match the migration files? And the Tortoise.init wrapper.

``march.check()`` reports differences without changing anything. ``march.install()`` wraps
``Tortoise.init`` so that, after it returns, the models are compared with the (cached) state of
the migration files and each difference is reported as a :class:`MarchDriftWarning` (or raised
as MarchDriftError with ``on_drift = "error"``). No database round trip unless
``drift_check_database = true`` asks for pending migrations too.
"""

from __future__ import annotations

import functools
import logging
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tortoise import Tortoise

from ..autodetect.autodetector import detect_changes
from ..config import MarchConfig, load_config
from ..exceptions import MarchDriftError, MarchDriftWarning, MarchError
from ..operations import (
    AddField,
    AlterField,
    AlterModelTable,
    CreateModel,
    DeleteModel,
    Operation,
    RemoveField,
    RenameField,
)
from ..project import drift_check_is_suppressed, tortoise_apps
from ..schema.extract import extract_state
from . import signals
from .cache import load_history

logger = logging.getLogger("tortoise_march_ext")
FIX = "run `python -m tortoise_march_ext makemigrations` to write the migration"

_PHRASES: dict[type, Callable[[Any], str]] = {
    CreateModel: lambda op: f"{op.name}: model added",
    DeleteModel: lambda op: f"{op.name}: model removed",
    AddField: lambda op: f"{op.model}: field {op.name} added",
    RemoveField: lambda op: f"{op.model}: field {op.name} removed",
    AlterField: lambda op: f"{op.model}: field {op.name} changed",
    RenameField: lambda op: f"{op.model}: field {op.old_name} renamed to {op.new_name}",
    AlterModelTable: lambda op: f"{op.name}: table renamed to {op.table}",
}


def difference(app: str, operation: Operation) -> str:
    """Return ``app.Model: what changed`` for one detected operation."""
    phrase = _PHRASES.get(type(operation))
    return f"{app}.{phrase(operation)}" if phrase else f"{app}: {operation.describe()}"


@dataclass
class DriftReport:
    """Differences between the models and the migration files, and pending migrations."""

    differences: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        """Return whether anything needs attention."""
        return bool(self.differences or self.pending)

    @property
    def message(self) -> str:
        """Return the warning text."""
        parts = []
        if self.differences:
            parts.append(
                "models differ from the migration files: "
                + "; ".join(self.differences)
                + f"; {FIX}"
            )
        if self.pending:
            parts.append(
                "migrations pending in the database: " + ", ".join(self.pending) + "; run "
                "`python -m tortoise_march_ext migrate` or call march.ensure_migrated()"
            )
        return ". ".join(parts)


async def check(config: MarchConfig | None = None, *, database: bool | None = None) -> DriftReport:
    """Compare the initialised Tortoise models with the migration files; change nothing.

    With ``database=True`` (default: the config's ``drift_check_database``) also list the
    migrations not applied yet.
    """
    config = config or load_config()
    apps = tortoise_apps()
    models = extract_state(apps, track=config.track)
    history = load_history(config.migrations_dir)
    selected = set(models.apps) | ({a for a, _ in history.nodes} & set(apps))
    changes = detect_changes(history.state, models, selected)
    report = DriftReport(
        [
            difference(app, op)
            for app in sorted(changes.operations)
            for op in changes.operations[app]
        ]
    )
    if database if database is not None else config.drift_check_database:
        from .ensure import pending_migrations

        report.pending = await pending_migrations(config, history)
    return report


async def _after_init() -> None:
    """Check for drift after ``Tortoise.init``; never break it except for real drift.

    Only drift found with ``on_drift = "error"`` raises (MarchDriftError). Anything else that
    goes wrong (a bad config, a broken migration file, a database that is down, a bug) is one
    MarchDriftWarning, and the application's ``Tortoise.init`` goes on.
    """
    try:
        config = load_config()
        if config.on_drift == "ignore":
            return
        report = await check(config)
    except Exception as exc:
        _warn(f"tortoise-march-ext drift check skipped: {_reason(exc)}")
        return
    if not report.drifted:
        return
    try:
        await signals.drift_detected.send(report=report)
    except Exception as exc:
        _warn(f"tortoise-march-ext: {_reason(exc)}")
    if config.on_drift == "error":
        raise MarchDriftError(report.message)
    _warn(report.message)


def _reason(exc: Exception) -> str:
    if isinstance(exc, MarchError):
        return str(exc)
    logger.debug("the drift check failed", exc_info=exc)
    return f"unexpected {type(exc).__name__}: {exc}"


def _warn(message: str) -> None:
    """Log ``message`` and warn it at the caller of ``Tortoise.init``."""
    logger.warning(message)
    warnings.warn(message, MarchDriftWarning, stacklevel=4)


_original: Any = None


def install() -> None:
    """Wrap ``Tortoise.init`` with the drift check (idempotent)."""
    global _original
    if _original is not None:
        return
    original = Tortoise.__dict__["init"]
    func = original.__func__

    @functools.wraps(func)
    async def init(cls: type[Tortoise], *args: Any, **kwargs: Any) -> Any:
        result = await func(cls, *args, **kwargs)
        if not drift_check_is_suppressed():
            await _after_init()
        return result

    init.__march_wrapped__ = True  # type: ignore[attr-defined]
    _original = original
    Tortoise.init = classmethod(init)  # type: ignore[method-assign,assignment]


def uninstall() -> None:
    """Restore the original ``Tortoise.init`` (idempotent)."""
    global _original
    if _original is not None:
        Tortoise.init = _original  # type: ignore[method-assign]
        _original = None


def installed() -> bool:
    """Return whether the wrapper is in place."""
    return _original is not None
