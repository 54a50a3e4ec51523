"""The command line's arguments: one argparse parser per verb, with the options they share."""

from __future__ import annotations

import argparse

from . import cli_init, output
from ._version import __version__


def build_parser(prog: str = "python -m tortoise_march_ext") -> argparse.ArgumentParser:
    """Return the argument parser of every verb (``prog``: the program name usage shows)."""
    common = argparse.ArgumentParser(add_help=False, parents=[output.options()])
    common.add_argument("-c", "--config", help="dotted path to the Tortoise config (module.ATTR)")
    common.add_argument("--location", help="folder holding one migrations folder per app")
    parser = argparse.ArgumentParser(
        prog=prog, description="Migrations for Tortoise ORM.", parents=[output.options()]
    )
    parser.add_argument("--version", action="version", version=f"tortoise-march-ext {__version__}")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    cli_init.add_parser(verbs)

    make = verbs.add_parser("makemigrations", parents=[common], help="write new migrations")
    make.add_argument("apps", nargs="*", metavar="APP")
    make.add_argument("--name", "-n", help="name of the new migration (after its number)")
    make.add_argument("--empty", action="store_true", help="write an empty migration")
    make.add_argument("--check", action="store_true", help="write nothing; exit 1 if changes")
    make.add_argument("--dry-run", action="store_true", help="print the files instead")
    make.add_argument("--noinput", "--no-input", action="store_true", help="never ask")
    make.add_argument(
        "--merge", action="store_true", help="write merge migrations for conflicting leaves"
    )
    make.add_argument(
        "--rename-field",
        action="append",
        metavar="APP.Model.old=new",
        help="treat this field as renamed (repeatable)",
    )
    make.add_argument(
        "--rename-model",
        action="append",
        metavar="APP.Old=New",
        help="treat this model as renamed (repeatable)",
    )
    make.add_argument(
        "--no-renames", action="store_true", help="never rename: remove and add instead"
    )
    make.add_argument(
        "--update",
        action="store_true",
        help="fold the changes into each app's latest migration (when no database applied it)",
    )
    make.add_argument(
        "--scriptable",
        action="store_true",
        help="print only the new files' paths on stdout (everything else on stderr)",
    )

    mig = verbs.add_parser("migrate", parents=[common], help="apply or unapply migrations")
    mig.add_argument("app", nargs="?", metavar="APP", help="an app, or APP:TARGET")
    mig.add_argument(
        "target", nargs="?", metavar="TARGET", help="name, unique prefix, zero, or -N/+N"
    )
    mig.add_argument("--fake", action="store_true", help="record without running SQL")
    mig.add_argument(
        "--fake-initial",
        action="store_true",
        help="record initial migrations whose tables exist and match without running them",
    )
    mig.add_argument(
        "--sql",
        action="store_true",
        help="print the plan as an SQL script a DBA can run (transactions, timeouts, recorder)",
    )
    mig.add_argument(
        "--from",
        dest="start",
        action="append",
        metavar="NAME|zero",
        help="with --sql: plan from this migration (APP:NAME, or NAME with APP) or zero instead "
        "of the recorder; opens no connection (repeatable)",
    )
    mig.add_argument(
        "--skip-python",
        action="store_true",
        help="with --sql: write a comment where a Python step runs instead of refusing",
    )
    mig.add_argument("--plan", action="store_true", help="print the steps instead")
    mig.add_argument("--check", action="store_true", help="run nothing; exit 1 if any pending")
    mig.add_argument(
        "--resolve",
        metavar="applied|unapplied",
        help="clear the mark of APP NAME, which stopped half-way (no transactional DDL), after "
        "fixing the database by hand: record it as applied or as unapplied",
    )
    mig.add_argument(
        "--prune",
        action="store_true",
        help="first delete the recorder rows of migrations whose files were deleted",
    )

    show = verbs.add_parser("showmigrations", parents=[common], help="list migrations")
    show.add_argument("app", nargs="?", metavar="APP")
    show.add_argument(
        "--plan", "-p", action="store_true", help="in the order migrate applies them, with deps"
    )

    optimize = verbs.add_parser(
        "optimizemigration", parents=[common], help="rewrite one migration with the optimizer"
    )
    optimize.add_argument("app", metavar="APP", help="an app, or APP:NAME")
    optimize.add_argument("name", nargs="?", metavar="NAME")
    optimize.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if it would change"
    )

    check = verbs.add_parser("check", parents=[common], help="exit 1 if models drifted")
    check.add_argument(
        "--database", action="store_true", help="also report migrations not applied yet"
    )
    check.add_argument(
        "--schema",
        action="store_true",
        help="compare the live tables with what the applied migrations built",
    )
    check.add_argument("app", nargs="?", metavar="APP", help="with --schema: only this app")

    squash = verbs.add_parser(
        "squashmigrations", parents=[common], help="replace a run of migrations with one"
    )
    squash.add_argument("app", metavar="APP")
    squash.add_argument("names", nargs="+", metavar="FROM TO", help="[FROM] TO (names or prefixes)")
    squash.add_argument("--squashed-name", help="name of the new migration (after its number)")
    squash.add_argument("--dry-run", action="store_true", help="print the file instead")

    lint = verbs.add_parser(
        "lint", parents=[common], help="find unsafe operations; exit 1 if any remain"
    )
    lint.add_argument("app", nargs="?", metavar="APP")
    lint.add_argument("--since", metavar="NAME", help="only migrations after NAME (needs APP)")
    lint.add_argument(
        "--format",
        choices=("text", "json", "github"),
        default="text",
        help="github: one workflow annotation (::error file=...,line=...) per finding",
    )
    lint.add_argument(
        "--git-base",
        metavar="REF",
        help="only the migration files added since the git ref REF (e.g. origin/main)",
    )

    adopt = verbs.add_parser(
        "adopt",
        parents=[common],
        help="take over an existing database: write and record the initial migrations",
    )
    adopt.add_argument("apps", nargs="*", metavar="APP")
    adopt.add_argument(
        "--write-difference",
        action="store_true",
        help="when the database lacks what the models add: adopt it as it stands and write "
        "the migration that adds the rest",
    )

    sql = verbs.add_parser("sqlmigrate", parents=[common], help="print one migration's SQL")
    sql.add_argument("app", metavar="APP", help="an app, or APP:NAME")
    sql.add_argument("name", nargs="?", metavar="NAME")
    sql.add_argument("--backwards", action="store_true", help="print the SQL that undoes it")
    return parser
