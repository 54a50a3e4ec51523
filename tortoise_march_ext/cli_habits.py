"""Printing of the verbs and flags taken from Django's habits: ``migrate --prune``,
``showmigrations --plan`` and ``optimizemigration`` (kept apart so that cli.py stays small)."""

from __future__ import annotations

import argparse

from . import commands
from .commands.optimize import optimizemigration
from .commands.prune import prune
from .commands.showplan import showplan
from .exceptions import EXIT_FOUND, EXIT_OK, ConfigError, GraphError
from .output import err as _err
from .output import out as _out
from .output import shown as _shown
from .output import split_app as _split_app


async def prune_first(args: argparse.Namespace, config: commands.MarchConfig) -> None:
    dry = [f"--{flag}" for flag in ("sql", "plan", "check") if getattr(args, flag)]
    if dry:
        raise ConfigError(
            f"--prune deletes recorder rows, so it cannot run with {', '.join(dry)}; run "
            "migrate --prune on its own (showmigrations marks the rows whose file is missing)"
        )
    result = await prune(config, args.app)
    _out("Pruning migrations:")
    for app, name in result.pruned:
        _out(f"  Pruned {app}.{name}")
    for (app, name), reason in result.kept:
        _out(f"  Kept {app}.{name}: {reason}")
    if not result.pruned:
        _out("  No migrations to prune.")


async def showplan_verb(args: argparse.Namespace) -> int:
    entries = await showplan(
        commands.load_config(config=args.config, location=args.location), args.app
    )
    for entry in entries:
        deps = ", ".join(f"{a}.{n}" for a, n in entry.dependencies)
        after = f" ... (depends on {deps})" if deps else ""
        _out(f"[{'X' if entry.applied else ' '}]  {entry.label}{after}")
    if not entries:
        _out("No migrations.")
    return EXIT_OK


async def optimizemigration_verb(args: argparse.Namespace) -> int:
    args.app, args.name = _split_app(args.app, args.name)
    if not args.name:
        raise GraphError(
            "optimizemigration needs APP NAME (or APP:NAME), e.g. optimizemigration contacts 0002"
        )
    result = await optimizemigration(
        commands.load_config(config=args.config, location=args.location),
        args.app,
        args.name,
        check=args.check,
    )
    if not result.changed:
        _out(f"No optimizations possible: {result.app}.{result.name} stays as it is.")
        return EXIT_OK
    _out(
        f"Optimizing {result.app}.{result.name} from {result.before} operation(s) to "
        f"{len(result.operations)}:"
    )
    for operation in result.operations:
        _out(f"    - {operation.describe()}")
    if args.check:
        _out(f"{_shown(result.path)} would change (--check: nothing written).")
        return EXIT_FOUND
    _out(f"Optimized migration {_shown(result.path)}")
    _err(
        f"warning: a database that applied {result.app}.{result.name} elsewhere would now refuse "
        "it as changed; optimize only migrations no database has applied"
    )
    return EXIT_OK
