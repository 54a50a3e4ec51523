"""Drift: do the tracked models still match the migration files? And the Tortoise.init wrapper.

``march.check()`` reports differences without changing anything. ``march.install()`` wraps
``Tortoise.init`` so that, after it returns, the models are compared with the (cached) state of
the migration files and each difference is reported as a :class:`MarchDriftWarning` (or raised
as MarchDriftError with ``on_drift = "error"``). No database round trip unless
``drift_check_database = true`` asks for pending migrations too.

A report goes out once, through one channel: ``warnings.warn`` (``on_drift = "warn"``) or the
``tortoise_march_ext`` logger (``on_drift = "log"``), attributed to the application's line that
called ``Tortoise.init`` (the first frame that is neither Tortoise's, asyncio's nor ours), also
when it is sent later from a task (the late check's pending migrations).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import sys
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from tortoise import Tortoise

from ..autodetect.autodetector import detect_changes
from ..config import MarchConfig, load_config
from ..exceptions import ConfigError, MarchDriftError, MarchDriftWarning, MarchError
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
from .cache import History, load_history

logger = logging.getLogger("tortoise_march_ext")
SKIPPED = "tortoise-march-ext drift check skipped"
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
    """Differences between the models and the migration files, and pending migrations.

    True when anything needs attention. ``apps`` are the apps compared: those with tracked
    models or migration files (empty: nothing is tracked).
    """

    differences: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    apps: list[str] = field(default_factory=list)

    @property
    def drifted(self) -> bool:
        """Return whether anything needs attention."""
        return bool(self.differences or self.pending)

    def __bool__(self) -> bool:
        return self.drifted

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


def _compare(config: MarchConfig) -> tuple[DriftReport, History]:
    """Return the differences between the initialised models and the files, and the history."""
    apps = tortoise_apps()
    models = extract_state(apps, track=config.track)
    history = load_history(config.migrations_dir, vendored=config.vendored_dirs)
    selected = set(models.apps) | ({a for a, _ in history.nodes} & set(apps))
    changes = detect_changes(history.state, models, selected)
    report = DriftReport(
        [
            difference(app, op)
            for app in sorted(changes.operations)
            for op in changes.operations[app]
        ],
        apps=sorted(selected),
    )
    return report, history


async def check(config: MarchConfig | None = None, *, database: bool | None = None) -> DriftReport:
    """Compare the initialised Tortoise models with the migration files; change nothing.

    With ``database=True`` (default: the config's ``drift_check_database``) also list the
    migrations not applied yet.
    """
    if Tortoise.apps is None:
        raise ConfigError(
            "Tortoise is not initialised: call march.check() after Tortoise.init (or "
            "RegisterTortoise), or run `python -m tortoise_march_ext check`"
        )
    config = config or load_config()
    report, history = _compare(config)
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
    where = app_line()
    channel = "warn"
    try:
        config = load_config()
        channel = config.on_drift
        if config.on_drift == "ignore":
            return
        report = await check(config)
    except Exception as exc:
        _warn(f"{SKIPPED}: {_reason(exc)}", where, channel)
        return
    if not report.drifted:
        return
    await _send_drift_detected(report, where, channel)
    if config.on_drift == "error":
        raise MarchDriftError(report.message)
    _warn(report.message, where, channel)


async def _send_drift_detected(report: DriftReport, where: Where, channel: str) -> None:
    try:
        await signals.drift_detected.send(report=report)
    except Exception as exc:
        _warn(f"tortoise-march-ext: {_reason(exc)}", where, channel)


def _reason(exc: Exception) -> str:
    if isinstance(exc, MarchError):
        return str(exc)
    logger.debug("the drift check failed", exc_info=exc)
    return f"unexpected {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Where:
    """The application's line a report is attributed to."""

    filename: str
    lineno: int
    module_globals: dict[str, Any]


def _skipped_folders() -> tuple[str, ...]:
    import tortoise

    folders = (
        Path(tortoise.__file__).parent,
        Path(__file__).parents[1],
        Path(asyncio.__file__).parent,
    )
    return tuple(f"{folder}{os.sep}" for folder in folders)


def app_line(frame: FrameType | None = None) -> Where:
    """Return the application's line below ``frame`` (default: the caller): the first frame,
    going out, that is neither Tortoise's, asyncio's nor ours (the outermost one if all are)."""
    skipped = _skipped_folders()
    frame = frame or sys._getframe(1)
    while frame.f_back is not None and frame.f_code.co_filename.startswith(skipped):
        frame = frame.f_back
    return Where(frame.f_code.co_filename, frame.f_lineno, frame.f_globals)


def _warn(message: str, where: Where, channel: str = "warn") -> None:
    """Report ``message`` once, at ``where``: through the logger (``on_drift = "log"``) or as
    a MarchDriftWarning (anything else; only ``"log"`` changes the channel)."""
    if channel == "log":
        record = logger.makeRecord(
            logger.name, logging.WARNING, where.filename, where.lineno, message, (), None
        )
        if logger.isEnabledFor(logging.WARNING):
            logger.handle(record)
        return
    module = str(where.module_globals.get("__name__", "<unknown>"))
    registry = where.module_globals.setdefault("__warningregistry__", {})
    warnings.warn_explicit(
        message,
        MarchDriftWarning,
        where.filename,
        where.lineno,
        module,
        registry,
    )


# -- a Tortoise.init that was running before the wrapper existed --------------------------------
# When the models module is the first to import this package, ``Tortoise.init`` is already running
# (it imports the models) and the wrapper comes too late for it. That init's context is then
# watched: the moment Tortoise marks it initialised (``ctx._inited = True``, the last thing
# ``TortoiseContext.init`` does) the check runs, synchronously, inside that init.
_tasks: set[asyncio.Task[None]] = set()


def _running_init_context() -> Any:
    """Return the TortoiseContext whose ``init`` is running below the caller, or None."""
    try:
        from tortoise.context import TortoiseContext
    except ImportError:  # a Tortoise without contexts: nothing to watch
        return None
    code = TortoiseContext.init.__code__
    frame = sys._getframe(1)
    while frame is not None and frame.f_code is not code:
        frame = frame.f_back  # type: ignore[assignment]
    ctx = frame.f_locals.get("self") if frame is not None else None
    return ctx if isinstance(ctx, TortoiseContext) else None


_watched_classes: dict[type, type] = {}


def _watched(base: type) -> type:
    """Return the subclass of ``base`` whose ``_inited = True`` runs the late check once."""
    if base in _watched_classes:
        return _watched_classes[base]

    def get(ctx: Any) -> Any:
        return ctx.__dict__.get("_inited", False)

    def set_(ctx: Any, value: Any) -> None:
        ctx.__dict__["_inited"] = value
        if value:
            ctx.__class__ = base
            if installed() and not drift_check_is_suppressed():
                _late_check()

    attrs = {"_inited": property(get, set_), "__march_watched__": True}
    return _watched_classes.setdefault(base, type(base.__name__, (base,), attrs))


def _watch_running_init() -> None:
    """Have the Tortoise.init running below the caller (if any) checked when it finishes."""
    ctx = _running_init_context()
    if ctx is not None and not getattr(type(ctx), "__march_watched__", False):
        ctx.__class__ = _watched(type(ctx))


def _unwatch_current() -> None:
    try:
        from tortoise.context import get_current_context
    except ImportError:  # a Tortoise without contexts: nothing is watched
        return
    ctx = get_current_context()
    if ctx is not None and getattr(type(ctx), "__march_watched__", False):
        ctx.__class__ = type(ctx).__mro__[1]


def _late_check() -> None:
    """Run the drift check inside the finishing init; the async parts follow as a task."""
    where = app_line()
    channel = "warn"
    try:
        config = load_config()
        channel = config.on_drift
        if config.on_drift == "ignore":
            return
        report, history = _compare(config)
    except Exception as exc:
        _warn(f"{SKIPPED}: {_reason(exc)}", where, channel)
        return
    if report.drifted or config.drift_check_database:
        _spawn(_late_rest(config, report, history, where))
    if report.drifted:
        if config.on_drift == "error":
            raise MarchDriftError(report.message)
        _warn(report.message, where, channel)


def _spawn(work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` as a task of the running loop, kept referenced until it is done."""
    task = asyncio.get_running_loop().create_task(work)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def _late_rest(
    config: MarchConfig, report: DriftReport, history: History, where: Where
) -> None:
    """Finish a late check: pending migrations (when asked for) and the drift_detected signal,
    reported at ``where``, the application's init (this runs in a task of its own)."""
    if config.drift_check_database:
        try:
            from .ensure import pending_migrations

            report.pending = await pending_migrations(config, history)
        except Exception as exc:
            _warn(f"{SKIPPED}: {_reason(exc)}", where, config.on_drift)
            return
        if report.pending:
            _warn(DriftReport(pending=report.pending).message, where, config.on_drift)
    if report.drifted:
        await _send_drift_detected(report, where, config.on_drift)


_original: Any = None


def install() -> None:
    """Wrap ``Tortoise.init`` with the drift check (idempotent).

    Called on ``import tortoise_march_ext``. When that import happens inside a running
    ``Tortoise.init`` (the models module imports the package), that init is checked too.
    """
    global _original
    _watch_running_init()
    if _original is not None:
        return
    original = Tortoise.__dict__["init"]
    func = original.__func__

    @functools.wraps(func)
    async def init(cls: type[Tortoise], *args: Any, **kwargs: Any) -> Any:
        _unwatch_current()  # this call is checked below, not by a late check
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
