"""More bad input through the real CLI: a pyproject.toml that is not UTF-8, timeouts that are not
finite non-negative numbers, a migration that depends on itself. Each gets one ``error: ...``
line, exit 2, and no change to the database or the migration files (see test_errors.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cliproject import (
    EXAMPLE,
    CliProject,
    assert_error,
    assert_unchanged,
    make_project,
    migration_source,
)

USAGE = 2
INITIAL = '("contacts", "0001_initial")'
SECTION = '[tool.tortoise_march_ext]\ntortoise_orm = "settings.TORTOISE_ORM"\n'
VERBS = [
    pytest.param(["makemigrations"], id="makemigrations"),
    pytest.param(["migrate"], id="migrate"),
    pytest.param(["showmigrations"], id="showmigrations"),
]


@pytest.fixture
def project(tmp_path: Path) -> CliProject:
    """Return the example project on SQLite: 0001 applied, 0002 pending, a model change unwritten
    (so that every verb has something it would do if it ran)."""
    project = make_project(tmp_path)
    initial = EXAMPLE / "migrations" / "contacts" / "0001_initial.py"
    project.write_migration("0001_initial", initial.read_text(encoding="utf-8"))
    project.ok("migrate")
    project.write_migration("0002_pending", migration_source(INITIAL))
    project.add_contact_field('phone = fields.CharField(max_length=30, default="")')
    assert project.recorded() == ["0001_initial"]
    return project


def write_pyproject_bytes(project: CliProject, data: bytes) -> None:
    (project.root / "pyproject.toml").write_bytes(data)


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize(
    "data",
    [
        pytest.param(("# Caf\u00e9 settings\n" + SECTION).encode("latin-1"), id="latin-1"),
        pytest.param(SECTION.encode("utf-16"), id="utf-16"),
    ],
)
def test_pyproject_that_is_not_utf8(project: CliProject, data: bytes, verb: list[str]) -> None:
    write_pyproject_bytes(project, data)
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, "pyproject.toml", "UTF-8")
    assert_unchanged(before, project.snapshot())


@pytest.mark.parametrize(
    ("line", "key"),
    [
        pytest.param("lock_timeout = nan", "lock_timeout", id="lock_timeout-nan"),
        pytest.param("lock_timeout = inf", "lock_timeout", id="lock_timeout-inf"),
        pytest.param("lock_timeout = -inf", "lock_timeout", id="lock_timeout-minus-inf"),
        pytest.param("lock_timeout = -1", "lock_timeout", id="lock_timeout-negative"),
        pytest.param("db_lock_timeout = nan", "db_lock_timeout", id="db_lock_timeout-nan"),
        pytest.param("db_lock_timeout = inf", "db_lock_timeout", id="db_lock_timeout-inf"),
        pytest.param(
            "db_statement_timeout = nan", "db_statement_timeout", id="db_statement_timeout-nan"
        ),
        pytest.param(
            "db_statement_timeout = inf", "db_statement_timeout", id="db_statement_timeout-inf"
        ),
        pytest.param(
            "db_statement_timeout = -0.5", "db_statement_timeout", id="db_statement_timeout-neg"
        ),
    ],
)
def test_timeout_that_is_not_a_finite_duration(project: CliProject, line: str, key: str) -> None:
    # Configuration is read the same way for every verb: migrate, which would apply 0002, stands
    # for them all.
    project.write_pyproject(SECTION + line + "\n")
    before = project.snapshot()
    result = project.run("migrate")
    assert_error(result, USAGE, "pyproject.toml", key)
    assert_unchanged(before, project.snapshot())


@pytest.mark.parametrize("verb", VERBS)
def test_migration_that_depends_on_itself(project: CliProject, verb: list[str]) -> None:
    deps = '("contacts", "0002_pending"), ("contacts", "0003_self")'
    project.write_migration("0003_self", migration_source(deps))
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, "0003_self.py", "depends on itself", '("contacts", "0003_self")')
    assert_unchanged(before, project.snapshot())


@pytest.mark.parametrize("verb", VERBS)
def test_migration_that_depends_only_on_itself(project: CliProject, verb: list[str]) -> None:
    project.write_migration("0003_self", migration_source('("contacts", "0003_self")'))
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, "0003_self.py", "depends on itself")
    assert_unchanged(before, project.snapshot())
