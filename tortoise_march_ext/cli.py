"""Command-line wiring: parse arguments, call :mod:`commands`, print results. Nothing else."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import traceback
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import anyio

from . import cli_init, commands, output
from .cli_habits import optimizemigration_verb, prune_first, showplan_verb
from .cli_parser import build_parser
from .commands.lint_ci import lint_ci
from .commands.migrate import FakeInitialRefused, Progress, resolve
from .commands.sql_script import sql_script
from .commands.targets import is_relative
from .exceptions import EXIT_FAILED, EXIT_FOUND, EXIT_OK, ConfigError, GraphError, MarchError
from .output import err as _err
from .output import out as _out
from .output import shown as _shown
from .output import split_app as _split_app


def _print_new(
    result: commands.MakeMigrationsResult, dry_run: bool, scriptable: bool = False
) -> None:
    say = _err if scriptable else _out  # --scriptable: stdout holds only the paths
    for item in result.migrations:
        say(f"{'Updated migration' if item.updated else 'Migrations'} for {item.app!r}:")
        say(f"  {_shown(item.path)}")
        if scriptable:
            _out(_shown(item.path))
        for operation in item.operations:
            say(f"    - {operation.describe()}")
        for finding in item.findings:
            say(f"    ! {finding.as_text()}")
        if dry_run:
            say(item.source)


async def _makemigrations(args: argparse.Namespace) -> int:
    result = await commands.makemigrations(
        commands.load_config(config=args.config, location=args.location),
        args.apps,
        name=args.name,
        empty=args.empty,
        check=args.check,
        dry_run=args.dry_run,
        merge=args.merge,
        update=args.update,
        questioner=commands.make_questioner(
            noinput=args.noinput,
            rename_fields=args.rename_field,
            rename_models=args.rename_model,
            no_renames=args.no_renames,
            output=sys.stderr if args.scriptable else None,
        ),
    )
    say = _err if args.scriptable else _out
    if args.check and result.changed:
        for line in result.differences:  # worded as `check` words them
            say(f"- {line}")
    if result.message:
        say(result.message)
    _print_new(result, args.dry_run, args.scriptable)
    if args.check and result.changed:
        say("Run `python -m tortoise_march_ext makemigrations` to write the missing migration.")
        return EXIT_FOUND
    return EXIT_OK


def _print_steps(result: commands.MigrateResult) -> None:
    for step in result.steps:
        note = f"  ({step.dialect_note})" if step.dialect_note else ""
        _out(f"{step.describe()}{note}")
        for operation, _ in step.statements:
            _out(f"    {operation.describe()}")


async def _resolve(args: argparse.Namespace, config: commands.MarchConfig) -> int:
    names = ("fake", "fake_initial", "sql", "plan", "check", "prune")
    others = [f"--{n.replace('_', '-')}" for n in names]
    given = [flag for flag in others if getattr(args, flag[2:].replace("-", "_"))]
    if given or not (args.app and args.target) or args.target == "zero":
        raise ConfigError(
            "--resolve needs APP NAME (the migration that stopped half-way) and no "
            f"{', '.join(given) or 'other option'}: migrate APP NAME --resolve applied|unapplied"
        )
    _out(await resolve(config, args.app, args.target, args.resolve))
    return EXIT_OK


async def _migrate(args: argparse.Namespace) -> int:
    args.app, args.target = _split_app(args.app, args.target)
    if is_relative(args.app) and args.target is None:
        raise GraphError(f"a relative target needs its app: migrate APP {args.app}")
    config = commands.load_config(config=args.config, location=args.location)
    if args.resolve is not None:
        return await _resolve(args, config)
    if args.prune:
        await prune_first(args, config)
    if args.sql:
        return await _migrate_sql(args, config)
    if args.start is not None or args.skip_python:
        raise ConfigError("--from and --skip-python go with --sql: migrate --sql --from zero")
    dry = args.plan or args.check
    try:
        result = await commands.migrate(
            config,
            args.app,
            args.target,
            fake=args.fake,
            fake_initial=args.fake_initial,
            plan=dry,
            progress=args.progress,
        )
    except FakeInitialRefused as exc:
        output.console.error(str(exc))
        for line in exc.lines:
            print(f"  {line}", file=sys.stderr)
        return exc.exit_code
    if not result.steps:
        _out("No migrations to apply.")
        return EXIT_OK
    if args.check:
        _out("Pending migrations:")
    elif not dry:
        for step in result.steps if output.console.verbosity < output.OPERATIONS else ():
            faked = args.fake or step.migration.key in result.faked
            _out(f"{step.describe()}... {_done(faked)}")
        for line in result.warnings:
            output.console.warning(line)
        return EXIT_OK
    _print_steps(result)
    return EXIT_FOUND if args.check else EXIT_OK


async def _migrate_sql(args: argparse.Namespace, config: commands.MarchConfig) -> int:
    others = [f for f in ("fake", "fake_initial", "plan", "check") if getattr(args, f)]
    if others:
        flags = ", ".join(f"--{f.replace('_', '-')}" for f in others)
        raise ConfigError(f"migrate --sql writes a script and runs nothing: drop {flags}")
    if is_relative(args.target):
        raise ConfigError(
            f"migrate --sql needs a migration name or zero as TARGET, not {args.target}; "
            "showmigrations lists the names"
        )
    script = await sql_script(
        config, args.app, args.target, start=args.start, skip_python=args.skip_python
    )
    _out(script)
    return EXIT_OK


def _done(faked: bool) -> str:
    return output.console.notice("Faked") if faked else output.console.ok("Done")


async def _showmigrations(args: argparse.Namespace) -> int:
    if args.plan:
        return await showplan_verb(args)
    entries = await commands.showmigrations(
        commands.load_config(config=args.config, location=args.location), args.app
    )
    current = None
    for entry in entries:
        if entry.app != current:
            current = entry.app
            _out(entry.app)
        note = f"  ({entry.note})" if entry.note else ""
        _out(f" [{'X' if entry.applied else ' '}] {entry.label}{note}")
    if not entries:
        _out("No migrations.")
    return EXIT_OK


async def _sqlmigrate(args: argparse.Namespace) -> int:
    args.app, args.name = _split_app(args.app, args.name)
    if not args.name:
        raise GraphError("sqlmigrate needs APP NAME (or APP:NAME), e.g. sqlmigrate contacts 0001")
    step = await commands.sqlmigrate(
        commands.load_config(config=args.config, location=args.location),
        args.app,
        args.name,
        backwards=args.backwards,
    )
    if step.dialect_note:
        _out(f"-- {step.describe()} ({step.dialect_note})")
    for _, statements in step.statements:
        for statement in statements:
            _out(str(statement))
    return EXIT_OK


async def _squashmigrations(args: argparse.Namespace) -> int:
    if len(args.names) > 2:
        raise GraphError("squashmigrations takes APP [FROM] TO: at most two migration names")
    start, end = (None, *args.names) if len(args.names) == 1 else args.names
    result = await commands.squashmigrations(
        commands.load_config(config=args.config, location=args.location),
        args.app,
        start,
        end,
        name=args.squashed_name,
        dry_run=args.dry_run,
    )
    _out(f"Squashed {', '.join(n for _, n in result.replaces)} of {result.app!r} into:")
    _out(f"  {_shown(result.path)}")
    for operation in result.operations:
        _out(f"    - {operation.describe()}")
    if result.copied:
        _out(f"Copied functions: {', '.join(result.copied)}")
    _out(
        "Keep the old migrations until every database has applied them (or the squash); then "
        "delete them and remove the replaces line."
    )
    if args.dry_run:
        _out(result.source)
    return EXIT_OK


async def _lint(args: argparse.Namespace) -> int:
    config = commands.load_config(config=args.config, location=args.location)
    if args.format == "github" or args.git_base is not None:
        found = await lint_ci(config, args.app, since=args.since, git_base=args.git_base)
        report = found.report
        if args.format == "github":
            _out(found.as_github())
            return report.exit_code
    else:
        report = await commands.lint(config, args.app, since=args.since)
    _out(report.as_json() if args.format == "json" else report.as_text())
    return report.exit_code


async def _check(args: argparse.Namespace) -> int:
    config = commands.load_config(config=args.config, location=args.location)
    if args.schema:
        return await _check_schema(config, args.app)
    if args.app is not None:
        raise ConfigError(f"check takes an APP only with --schema: check --schema {args.app}")
    report = await commands.check(config, database=args.database)
    if not report:
        _out(f"No drift: the models match the migration files ({', '.join(report.apps)}).")
        return EXIT_OK
    for line in report.differences:
        _out(f"- {line}")
    for name in report.pending:
        _out(f"- pending: {name}")
    if report.differences:
        _out("Run `python -m tortoise_march_ext makemigrations` to write the missing migration.")
    if report.pending:
        _out("Run `python -m tortoise_march_ext migrate` to apply the pending migrations.")
    return EXIT_FOUND


async def _check_schema(config: commands.MarchConfig, app: str | None) -> int:
    result = await commands.check_schema(config, app)
    if not result:
        _out(
            f"The database matches the applied migrations ({', '.join(result.apps) or 'no apps'})."
        )
        return EXIT_OK
    for line in result.differences:
        _out(line)
    return EXIT_FOUND


async def _adopt(args: argparse.Namespace) -> int:
    config = commands.load_config(config=args.config, location=args.location)
    try:
        result = await commands.adopt(config, args.apps, write_difference=args.write_difference)
    except commands.AdoptRefused as exc:
        for line in [*exc.found, *exc.lines]:
            _out(line)
        sys.stdout.flush()
        output.console.error(str(exc))
        return exc.exit_code
    for line in result.skipped:
        _out(line)
    for history in result.histories:
        _out(history.found_line())
    for item in result.adopted:
        written = ", ".join(_shown(path) for path in item.paths)
        _out(
            f"adopted {item.app}: wrote {written}, recorded as applied "
            f"({item.tables} table(s) match)"
        )
    if result.difference is not None:
        for new in result.difference.migrations:
            _out(
                f"wrote {_shown(new.path)} for what the models add to the database (not "
                "applied): run `python -m tortoise_march_ext migrate` to apply it"
            )
    if result.difference_error:
        output.console.warning(
            "the initial migrations were recorded, but the migration that adds what "
            f"the models add could not be written: {result.difference_error}; run "
            "makemigrations"
        )
    for line in result.drop_hints:
        _out(line)
    if not result.adopted and not result.skipped:
        _out(f"Nothing to adopt. {commands.NO_TRACKED}")
    return EXIT_OK


VERBS: dict[str, Callable[[argparse.Namespace], Coroutine[Any, Any, int]]] = {
    "init": cli_init.run,
    "makemigrations": _makemigrations,
    "migrate": _migrate,
    "showmigrations": _showmigrations,
    "sqlmigrate": _sqlmigrate,
    "squashmigrations": _squashmigrations,
    "lint": _lint,
    "check": _check,
    "adopt": _adopt,
    "optimizemigration": optimizemigration_verb,
}


EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report for Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a tool whose reader went away reports


async def _run(args: argparse.Namespace) -> int:
    """Run the verb, then let the worker threads of closed SQLite connections finish while
    the event loop still runs (aiosqlite's thread reports to the loop after a failed connect,
    and would print a traceback if the loop were closed by then)."""
    try:
        return await VERBS[args.verb](args)
    finally:
        with anyio.CancelScope(shield=True):
            await _settle_threads()


async def _settle_threads() -> None:
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)") and thread.is_alive():
            await anyio.to_thread.run_sync(thread.join, 2.0)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null, so that the final flush at exit cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Run the CLI and return its exit code (``prog``: the program name shown in usage)."""
    prog = prog or output.program_name()
    args = output.parse(build_parser(prog), argv, prog)
    console = output.configure(args.verbosity, args.no_color)
    live = console.verbosity >= output.OPERATIONS
    args.progress = output.LiveProgress(console=console) if live else Progress()
    try:
        code = anyio.run(_run, args)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        kept = args.progress.kept() if args.verb == "migrate" else "interrupted"
        print(kept, file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except MarchError as exc:
        if args.traceback:
            traceback.print_exc()
        console.error(" ".join(str(exc).split()))
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 - the one boundary that turns crashes into a line
        if args.traceback:
            traceback.print_exc()
        console.error(f"unexpected {type(exc).__name__}: {exc} (run again with --traceback)")
        return EXIT_FAILED
