"""Every bad input: one ``error: ...`` line on stderr naming the problem, the right exit code, no
traceback, and no change to the database or the migration files.

Exit codes (DESIGN.md section 3): 2 usage or configuration error; 3 a migration failed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cliproject import (
    CliProject,
    assert_error,
    assert_unchanged,
    error_problems,
    make_project,
    migration_source,
    show,
)

USAGE = 2
FAILED = 3
INITIAL = '("contacts", "0001_initial")'
VERBS = [
    pytest.param(["makemigrations"], id="makemigrations"),
    pytest.param(["migrate"], id="migrate"),
    pytest.param(["showmigrations"], id="showmigrations"),
]


@pytest.fixture
def project(tmp_path: Path) -> CliProject:
    """Return a copy of the example project on SQLite with 0001_initial written and applied."""
    project = make_project(tmp_path)
    project.ok("makemigrations")
    project.ok("migrate")
    assert project.recorded() == ["0001_initial"]
    return project


@pytest.fixture(params=["sqlite", "postgres"])
def any_db_project(request: pytest.FixtureRequest, tmp_path: Path) -> CliProject:
    """Like ``project``, on SQLite and on a fresh PostgreSQL database."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    project = make_project(tmp_path, url)
    project.ok("makemigrations")
    project.ok("migrate")
    assert project.recorded() == ["0001_initial"]
    return project


# -- configuration -------------------------------------------------------------------------------
CONFIG_CASES = [
    pytest.param(None, ("tortoise_orm",), id="no-pyproject"),
    pytest.param('[project]\nname = "contacts-app"\n', ("tortoise_orm",), id="no-section"),
    pytest.param(
        '[tool.tortoise_march_ext]\nlocation = "migrations"\n',
        ("tortoise_orm",),
        id="no-tortoise_orm",
    ),
    pytest.param(
        '[tool.tortoise_march_ext\ntortoise_orm = "settings.TORTOISE_ORM"\n',
        ("pyproject.toml", "TOML"),
        id="invalid-toml",
    ),
    pytest.param(
        '[tool.tortoise_march_ext]\ntortoise_orm = "settings.TORTOISE_ORM"\ncolour = "red"\n',
        ("pyproject.toml", "colour"),
        id="unknown-key",
    ),
    pytest.param(
        '[tool.tortoise_march_ext]\ntortoise_orm = "settings.TORTOISE_ORM"\ntrack = "some"\n',
        ("track", "some"),
        id="bad-track",
    ),
    pytest.param(
        '[tool.tortoise_march_ext]\ntortoise_orm = "nosuchmodule.TORTOISE_ORM"\n',
        ("nosuchmodule",),
        id="module-does-not-import",
    ),
    pytest.param(
        '[tool.tortoise_march_ext]\ntortoise_orm = "broken_settings.TORTOISE_ORM"\n',
        ("broken_settings",),
        id="module-raises-on-import",
    ),
    pytest.param(
        '[tool.tortoise_march_ext]\ntortoise_orm = "settings.NOPE"\n',
        ("NOPE",),
        id="missing-attribute",
    ),
    pytest.param(
        '[tool.tortoise_march_ext]\ntortoise_orm = "settings.NOT_A_DICT"\n',
        ("NOT_A_DICT",),
        id="not-a-dict",
    ),
]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize(("pyproject", "words"), CONFIG_CASES)
def test_bad_configuration(
    project: CliProject, pyproject: str | None, words: tuple[str, ...], verb: list[str]
) -> None:
    (project.root / "broken_settings.py").write_text(
        "import no_such_package_for_march  # noqa: F401\n", encoding="utf-8"
    )
    with (project.root / "settings.py").open("a", encoding="utf-8") as settings:
        settings.write('\nNOT_A_DICT = ["sqlite://:memory:"]\n')
    # Give every verb something it would do if it ran: a pending 0002 and an unwritten change.
    project.add_contact_field('nickname = fields.CharField(max_length=40, default="")')
    project.ok("makemigrations")
    project.add_contact_field('phone = fields.CharField(max_length=30, default="")')
    assert project.migration_names() == ["0001_initial.py", "0002_contact_nickname.py"]
    if pyproject is None:
        (project.root / "pyproject.toml").unlink()
    else:
        project.write_pyproject(pyproject)
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, *words)
    assert_unchanged(before, project.snapshot())


# -- migration files -----------------------------------------------------------------------------
FILE_CASES = [
    pytest.param("def broken(:\n", id="syntax-error"),
    pytest.param('"""No class here."""\n\nVALUE = 1\n', id="no-migration-class"),
    pytest.param(
        '"""Raises."""\n\nraise RuntimeError("boom")\n',
        id="raises-on-import",
    ),
]


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("body", FILE_CASES)
def test_broken_migration_file(project: CliProject, body: str, verb: list[str]) -> None:
    project.write_migration("0002_broken", body)
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, "0002_broken.py")
    assert_unchanged(before, project.snapshot())


@pytest.mark.parametrize("verb", VERBS)
def test_dependency_on_missing_migration(project: CliProject, verb: list[str]) -> None:
    project.write_migration("0002_orphan", migration_source('("contacts", "0009_nope")'))
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, "0002_orphan", "0009_nope")
    assert_unchanged(before, project.snapshot())


@pytest.mark.parametrize("verb", VERBS)
def test_dependency_cycle(project: CliProject, verb: list[str]) -> None:
    project.write_migration("0002_a", migration_source(f'{INITIAL}, ("contacts", "0003_b")'))
    project.write_migration("0003_b", migration_source('("contacts", "0002_a")'))
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, "cycle", "0002_a", "0003_b")
    assert_unchanged(before, project.snapshot())


@pytest.mark.parametrize(
    "verb",
    [
        pytest.param(["makemigrations"], id="makemigrations"),
        pytest.param(["migrate"], id="migrate"),
    ],
)
def test_two_leaf_migrations(project: CliProject, verb: list[str]) -> None:
    project.write_migration("0002_left", migration_source(INITIAL))
    project.write_migration("0002_right", migration_source(INITIAL))
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, "contacts", "0002_left", "0002_right")
    assert_unchanged(before, project.snapshot())


# -- targets and apps ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "words"),
    [
        pytest.param(["migrate", "contacts", "0007"], ("0007",), id="migrate-unknown-target"),
        pytest.param(
            ["migrate", "contacts", "0002_nope"], ("0002_nope",), id="migrate-unknown-name"
        ),
        pytest.param(["sqlmigrate", "contacts", "0007"], ("0007",), id="sqlmigrate-unknown-name"),
        pytest.param(["migrate", "contacts", "000"], ("000", "ambiguous"), id="migrate-ambiguous"),
        pytest.param(
            ["sqlmigrate", "contacts", "000"], ("000", "ambiguous"), id="sqlmigrate-ambiguous"
        ),
        pytest.param(["migrate", "nosuchapp"], ("nosuchapp",), id="migrate-unknown-app"),
        pytest.param(
            ["migrate", "nosuchapp", "zero"], ("nosuchapp",), id="migrate-unknown-app-zero"
        ),
        pytest.param(["showmigrations", "nosuchapp"], ("nosuchapp",), id="show-unknown-app"),
        pytest.param(["sqlmigrate", "nosuchapp", "0001"], ("nosuchapp",), id="sql-unknown-app"),
        pytest.param(["makemigrations", "nosuchapp"], ("nosuchapp",), id="make-unknown-app"),
    ],
)
def test_bad_target_or_app(project: CliProject, args: list[str], words: tuple[str, ...]) -> None:
    # A second, unapplied migration makes "000" ambiguous and gives migrate something to do.
    project.write_migration("0002_extra", migration_source(INITIAL))
    before = project.snapshot()
    result = project.run(*args)
    assert_error(result, USAGE, *words)
    assert_unchanged(before, project.snapshot())


# -- the database --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["migrate"], id="migrate"),
        pytest.param(["migrate", "--check"], id="migrate-check"),
        pytest.param(["migrate", "--plan"], id="migrate-plan"),
        pytest.param(["migrate", "contacts", "zero"], id="migrate-zero"),
        pytest.param(["showmigrations"], id="showmigrations"),
    ],
)
def test_unreachable_database(tmp_path: Path, args: list[str]) -> None:
    project = make_project(tmp_path, "postgres://postgres@127.0.0.1:1/nope")
    project.ok("makemigrations")
    files = project.files()
    assert list(files) == ["contacts/0001_initial.py"]
    result = project.run(*args)
    assert_error(result, USAGE, "default")
    assert "127.0.0.1" in result.stderr or "connect" in result.stderr.lower(), show(result)
    assert project.files() == files


def test_failing_runsql_keeps_nothing(any_db_project: CliProject) -> None:
    project = any_db_project
    project.write_migration(
        "0002_fail",
        migration_source(
            INITIAL,
            'migrations.RunSQL("CREATE TABLE ok_table (id int)")',
            'migrations.RunSQL("SELECT * FROM no_such_table")',
        ),
    )
    before = project.snapshot()
    result = project.run("migrate")
    problems = error_problems(result, FAILED, "0002_fail", "no_such_table")
    after = project.snapshot()
    assert "ok_table" not in after.tables, "the failed migration's first statement was kept"
    assert project.recorded() == ["0001_initial"], "the failed migration was recorded"
    assert_unchanged(before, after)
    assert not problems, "; ".join(problems) + show(result)


# -- history -------------------------------------------------------------------------------------
HISTORY_VERBS = [
    pytest.param(["migrate"], id="migrate"),
    pytest.param(["migrate", "contacts", "zero"], id="migrate-zero"),
]


@pytest.mark.parametrize("verb", HISTORY_VERBS)
def test_applied_migration_file_deleted(project: CliProject, verb: list[str]) -> None:
    (project.migrations / "0001_initial.py").unlink()
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, "0001_initial.py")
    assert_unchanged(before, project.snapshot())


@pytest.mark.parametrize("verb", HISTORY_VERBS)
def test_applied_migration_code_changed(project: CliProject, verb: list[str]) -> None:
    project.replace_in(project.migrations / "0001_initial.py", "max_length=50", "max_length=60")
    before = project.snapshot()
    result = project.run(*verb)
    assert_error(result, USAGE, "0001_initial.py")
    assert_unchanged(before, project.snapshot())


def test_applied_migration_comment_and_formatting_edit_is_accepted(project: CliProject) -> None:
    path = project.migrations / "0001_initial.py"
    project.replace_in(
        path, "    initial = True\n", "    # reviewed\n    initial  =  True  # yes\n"
    )
    project.replace_in(path, 'name="Company",', "name='Company' ,")
    path.write_text(path.read_text(encoding="utf-8") + "\n\n# end of file\n", encoding="utf-8")
    before = project.snapshot()
    result = project.ok("migrate")
    assert "No migrations to apply" in result.stdout, show(result)
    assert project.run("migrate", "--check").returncode == 0
    result = project.ok("showmigrations")
    assert result.stdout.splitlines() == ["contacts", " [X] 0001_initial"], show(result)
    assert project.snapshot() == before


# -- irreversible migrations ---------------------------------------------------------------------
@pytest.mark.parametrize("target", ["zero", "0001"])
def test_irreversible_migration_refuses_to_unapply(project: CliProject, target: str) -> None:
    project.write_migration(
        "0002_irreversible",
        migration_source(INITIAL, 'migrations.RunSQL("CREATE TABLE ok_table (id int)")'),
    )
    project.ok("migrate")
    assert project.recorded() == ["0001_initial", "0002_irreversible"]
    before = project.snapshot()
    result = project.run("migrate", "contacts", target)
    assert_error(result, USAGE, "0002_irreversible")
    assert_unchanged(before, project.snapshot())
    assert "ok_table" in project.tables()


def test_traceback_flag_shows_the_traceback(project: CliProject) -> None:
    result = project.run("migrate", "nosuchapp", "--traceback")
    assert result.returncode == USAGE, show(result)
    assert "Traceback" in result.stderr, show(result)
    assert result.stderr.strip().splitlines()[-1].startswith("error: "), show(result)
    assert "nosuchapp" in result.stderr.strip().splitlines()[-1], show(result)
