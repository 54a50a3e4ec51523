"""The ``init`` verb on the command line: its arguments and what it prints (the work is
:func:`tortoise_march_ext.commands.init.init_project`)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from . import output
from .commands.init import init_project
from .exceptions import EXIT_OK


def add_parser(verbs: Any) -> argparse.ArgumentParser:
    """Add ``init -t MODULE.ATTR [--location DIR]`` to the verbs (an argparse subparsers)."""
    init: argparse.ArgumentParser = verbs.add_parser(
        "init", parents=[output.options()], help="write the config section into pyproject.toml"
    )
    init.add_argument(
        "-t",
        "--tortoise-orm",
        required=True,
        metavar="MODULE.ATTR",
        help="dotted path to the Tortoise config dict, e.g. settings.TORTOISE_ORM",
    )
    init.add_argument(
        "--location", default="migrations", help="folder for the migrations (default: migrations)"
    )
    return init


async def run(args: argparse.Namespace) -> int:
    """Write the section into the current folder's pyproject.toml and say what comes next."""
    result = init_project(args.tortoise_orm, args.location, root=Path.cwd())
    out = output.console.out
    did = "Created" if result.created else "Added [tool.tortoise_march_ext] to"
    out(f"{output.console.ok(did)} {result.path.name}:")
    out()
    out("\n".join(f"  {line}" for line in result.section.splitlines()))
    out()
    out('Next: mark your models (class Meta(march.Meta)) or set track = "all", then')
    out(f"  {args.prog} makemigrations")
    out(f"  {args.prog} migrate")
    return EXIT_OK
