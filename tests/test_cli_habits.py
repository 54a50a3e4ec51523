"""The CLI habits people bring from Django: ``showmigrations --plan``, ``migrate APP -N/+N``,
``migrate --prune`` and ``makemigrations --scriptable``, run through the real CLI on SQLite,
PostgreSQL and (where SQL is run) MariaDB.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cliproject import CliProject, assert_error, make_project, show
from tests.conftest import (
    drop_mysql_database,
    drop_pg_database,
    new_mysql_database,
    new_pg_database,
)

NICKNAME = 'nickname = fields.CharField(max_length=40, default="")'
PHONE = "phone = fields.CharField(max_length=20, null=True)"
NAMES = ["0001_initial", "0002_nickname", "0003_phone"]


def _project(tmp_path: Path, kind: str) -> Iterator[CliProject]:
    url = {"postgres": new_pg_database, "mysql": new_mysql_database}.get(kind)
    made = url() if url else None
    try:
        yield make_project(tmp_path, made)
    finally:
        if made and kind == "postgres":
            drop_pg_database(made)
        elif made:
            drop_mysql_database(made)


@pytest.fixture(params=["sqlite", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CliProject]:
    """The example project on SQLite, then on PostgreSQL."""
    yield from _project(tmp_path, request.param)


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def sql_project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CliProject]:
    """The example project on SQLite, PostgreSQL and MariaDB."""
    yield from _project(tmp_path, request.param)


def three(project: CliProject) -> CliProject:
    """Write 0001_initial, 0002_nickname and 0003_phone (not applied)."""
    project.ok("makemigrations")
    project.add_contact_field(NICKNAME)
    project.ok("makemigrations", "--name", "nickname")
    project.add_contact_field(PHONE)
    project.ok("makemigrations", "--name", "phone")
    assert project.migration_names() == [f"{n}.py" for n in NAMES]
    return project


def columns(project: CliProject) -> list[str]:
    return project.snapshot().tables.get("contact", [])


# -- showmigrations --plan -----------------------------------------------------------------------
def test_showmigrations_plan_lists_the_order_with_dependencies(project: CliProject) -> None:
    three(project)
    project.ok("migrate", "contacts", "0002")
    result = project.ok("showmigrations", "--plan")
    assert result.stdout.splitlines() == [
        "[X]  contacts.0001_initial",
        "[X]  contacts.0002_nickname ... (depends on contacts.0001_initial)",
        "[ ]  contacts.0003_phone ... (depends on contacts.0002_nickname)",
    ], show(result)
    assert project.run("showmigrations", "-p", "contacts").stdout == result.stdout
    assert project.recorded() == NAMES[:2], "showmigrations must change nothing"


# -- relative targets ----------------------------------------------------------------------------
def test_relative_targets_move_back_and_forward(sql_project: CliProject) -> None:
    project = three(sql_project)
    project.ok("migrate")
    result = project.ok("migrate", "contacts", "-1")
    assert "0003_phone" in result.stdout, show(result)
    assert project.recorded() == NAMES[:2]
    assert "phone" not in columns(project) and "nickname" in columns(project)

    project.ok("migrate", "contacts", "-2")
    assert project.recorded() == []
    assert "contact" not in project.tables()

    project.ok("migrate", "contacts", "+1")
    assert project.recorded() == NAMES[:1]
    project.ok("migrate", "contacts:+2")
    assert project.recorded() == NAMES
    assert "phone" in columns(project)


def test_relative_targets_past_either_end_are_one_line(sql_project: CliProject) -> None:
    project = three(sql_project)
    project.ok("migrate", "contacts", "0002")
    before = project.snapshot()
    result = project.run("migrate", "contacts", "-3")
    assert_error(result, 2, "-3", "0002_nickname", "the furthest is -2", "nothing was changed")
    result = project.run("migrate", "contacts", "+2")
    assert_error(result, 2, "+2", "latest", "the furthest is +1")
    assert project.snapshot() == before
    project.ok("migrate")
    assert_error(project.run("migrate", "contacts", "+1"), 2, "nothing is after 0003_phone")
    assert_error(project.run("migrate", "-1"), 2, "needs its app", "migrate APP -1")


def test_relative_target_with_plan_runs_nothing(project: CliProject) -> None:
    three(project)
    project.ok("migrate")
    result = project.ok("migrate", "contacts", "-2", "--plan")
    assert "0003_phone" in result.stdout and "0002_nickname" in result.stdout, show(result)
    assert "0001_initial" not in result.stdout, show(result)
    assert project.recorded() == NAMES


# -- migrate --prune -----------------------------------------------------------------------------
def test_prune_deletes_rows_of_deleted_files_only(sql_project: CliProject) -> None:
    project = three(sql_project)
    project.ok("migrate")
    (project.migrations / "0003_phone.py").unlink()
    assert_error(project.run("migrate"), 2, "0003_phone", "missing")

    result = project.ok("migrate", "--prune")
    lines = result.stdout.splitlines()
    assert lines[:2] == ["Pruning migrations:", "  Pruned contacts.0003_phone"], show(result)
    assert "No migrations to apply." in lines, show(result)
    assert project.recorded() == NAMES[:2]
    assert "phone" in columns(project), "prune changes the recorder only"

    again = project.ok("migrate", "contacts", "--prune")
    assert again.stdout.splitlines()[:2] == ["Pruning migrations:", "  No migrations to prune."]
    assert project.recorded() == NAMES[:2]


def test_prune_keeps_a_renamed_file_and_a_wrong_location(sql_project: CliProject) -> None:
    project = three(sql_project)
    project.ok("migrate")
    (project.migrations / "0003_phone.py").rename(project.migrations / "0003_phone_number.py")
    before = project.snapshot().recorded
    result = project.run("migrate", "--prune")
    assert "  Kept contacts.0003_phone: 0003_phone_number.py has the same code" in result.stdout
    assert_error(result, 2, "0003_phone", "missing")  # migrate goes on, and refuses
    assert project.snapshot().recorded == before

    (project.migrations / "0003_phone_number.py").rename(project.migrations / "0003_phone.py")
    (project.root / "elsewhere").mkdir()
    result = project.run("migrate", "--prune", "--location", "elsewhere")
    assert "  Kept contacts.0001_initial: the migrations folder" in result.stdout, show(result)
    assert "  No migrations to prune." in result.stdout, show(result)
    assert project.snapshot().recorded == before


def test_prune_keeps_the_rows_a_squash_replaces(project: CliProject) -> None:
    three(project)
    project.ok("migrate")
    project.ok("squashmigrations", "contacts", "0001", "0002")
    for name in NAMES[:2]:
        (project.migrations / f"{name}.py").unlink()
    before = project.snapshot().recorded
    result = project.ok("migrate", "--prune")
    for name in NAMES[:2]:
        assert f"  Kept contacts.{name}: the squash 0001_initial_squashed_0002_nickname" in (
            result.stdout
        ), show(result)
    assert "  No migrations to prune." in result.stdout
    assert project.snapshot().recorded == before


def test_prune_refuses_dry_flags(project: CliProject) -> None:
    three(project)
    project.ok("migrate")
    (project.migrations / "0003_phone.py").unlink()
    assert_error(project.run("migrate", "--prune", "--plan"), 2, "--prune", "--plan")
    assert project.recorded() == NAMES


# -- makemigrations --scriptable -----------------------------------------------------------------
def test_makemigrations_scriptable_prints_only_paths(project: CliProject) -> None:
    result = project.ok("makemigrations", "--scriptable")
    assert result.stdout == "migrations/contacts/0001_initial.py\n", show(result)
    assert "Create model Contact" in result.stderr, show(result)
    assert project.migration_names() == ["0001_initial.py"]

    result = project.ok("makemigrations", "--scriptable")
    assert result.stdout == "", show(result)
    assert "No changes detected" in result.stderr

    project.add_contact_field(NICKNAME)
    result = project.run("makemigrations", "--scriptable", "--check")
    assert result.returncode == 1, show(result)
    assert result.stdout.splitlines() == ["migrations/contacts/0002_contact_nickname.py"]
    assert "Add field nickname to Contact" in result.stderr
    assert project.migration_names() == ["0001_initial.py"], "--check writes nothing"
