"""The recorder table and the SQLite lock file in states the tool did not leave them in.

A recorder with other columns or that is a view, and a lock file that is a folder or not a
database, each stop `migrate` with one line and exit 2 before anything changes. A first migration
that fails leaves no empty recorder behind. PostgreSQL and SQLite files, through the real CLI.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cliproject import error_problems, run_python
from tests.lockproject import INITIAL, RECORDER, NotesProject, Run, notes_project, pg_fetch

USAGE, FAILED = 2, 3
COLUMNS = "app, name, checksum, applied_at"


@pytest.fixture(params=["sqlite", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotesProject]:
    """Yield the notes project with its initial migration, on an empty database of each backend."""
    with notes_project(request.param, tmp_path, {"0001_initial": INITIAL}) as made:
        yield made


@pytest.fixture
def sqlite_project(tmp_path: Path) -> NotesProject:
    """Return the notes project with its initial migration on a SQLite file."""
    made = NotesProject(tmp_path / "project", f"sqlite://{tmp_path / 'db.sqlite3'}")
    made.write("0001_initial", INITIAL)
    return made


def execute(project: NotesProject, *statements: str) -> None:
    """Run statements on the project's database, committed."""
    for sql in statements:
        if project.is_postgres:
            pg_fetch(project.url, sql)
        else:
            conn = sqlite3.connect(project.sqlite_path, isolation_level=None)
            try:
                conn.execute(sql)
            finally:
                conn.close()


def contents(project: NotesProject) -> tuple[set[str], list[tuple[object, ...]]]:
    """Return the tables and views, and every row of the recorder (as whatever it is)."""
    tables = project.tables()
    rows = project.query(f"SELECT * FROM {RECORDER}") if RECORDER in tables else []
    return tables, rows


def assert_one_line(run: Run, exit_code: int, *words: str) -> None:
    """Assert the run ended with one handled error line naming ``words``."""
    problems = error_problems(run, exit_code, *words)  # type: ignore[arg-type]
    assert not problems, "; ".join(problems) + f"\n{run}"


BAD_RECORDERS = {
    "other-columns": f"CREATE TABLE {RECORDER} (id INT, migration VARCHAR(100))",
    "missing-checksum": (
        f"CREATE TABLE {RECORDER} (id INT, app VARCHAR(255), name VARCHAR(255), "
        "applied_at TIMESTAMP)"
    ),
    "view": (
        f"CREATE VIEW {RECORDER} AS SELECT 1 AS id, 'notes' AS app, 'x' AS name, "
        "'c' AS checksum, '2020-01-01' AS applied_at"
    ),
}


@pytest.mark.parametrize("verb", [["migrate"], ["migrate", "--fake"], ["showmigrations"]])
@pytest.mark.parametrize("kind", sorted(BAD_RECORDERS))
def test_foreign_recorder_is_one_line_and_changes_nothing(
    project: NotesProject, kind: str, verb: list[str]
) -> None:
    execute(project, BAD_RECORDERS[kind])
    before = contents(project)
    run = project.cli(*verb)
    words = ("view",) if kind == "view" else ("columns", COLUMNS)
    assert_one_line(run, USAGE, RECORDER, *words)
    assert contents(project) == before


def test_recorder_with_its_own_columns_in_another_order_is_accepted(
    project: NotesProject,
) -> None:
    key = "SERIAL PRIMARY KEY" if project.is_postgres else "INTEGER PRIMARY KEY AUTOINCREMENT"
    execute(
        project,
        f"CREATE TABLE {RECORDER} (applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, "
        "checksum VARCHAR(64) NOT NULL, name VARCHAR(255) NOT NULL, app VARCHAR(255) NOT NULL, "
        f"id {key}, UNIQUE (app, name))",
    )
    run = project.cli("migrate")
    assert run.returncode == 0, run
    assert project.recorded() == [("notes", "0001_initial")]


FAILING_FIRST = '''\
"""Create a table, then fail."""

from tortoise_march_ext import migrations


class Migration(migrations.Migration):
    initial = True

    dependencies = ()

    operations = (
        migrations.RunSQL("CREATE TABLE made_first (id INT)"),
        migrations.RunSQL("SELECT * FROM no_such_table"),
    )
'''


def test_failing_first_migration_leaves_no_recorder(project: NotesProject) -> None:
    project.write("0001_initial", FAILING_FIRST)
    run = project.cli("migrate")
    assert_one_line(run, FAILED, "0001_initial", "no_such_table")
    assert project.tables() == set()


def test_recorder_is_created_with_the_first_migration(project: NotesProject) -> None:
    run = project.cli("migrate")
    assert run.returncode == 0, run
    assert project.tables() == {"note", RECORDER}
    assert project.recorded() == [("notes", "0001_initial")]


def lock_file(project: NotesProject) -> Path:
    """Return the SQLite migration lock file of the project's database."""
    return Path(f"{project.sqlite_path}.march-lock")


@pytest.mark.parametrize("verb", [["migrate"], ["migrate", "--fake"]])
@pytest.mark.parametrize("kind", ["folder", "garbage"])
def test_bad_sqlite_lock_file_is_one_line_and_changes_nothing(
    sqlite_project: NotesProject, kind: str, verb: list[str]
) -> None:
    path = lock_file(sqlite_project)
    if kind == "folder":
        path.mkdir()
    else:
        path.write_bytes(b"this is not a SQLite database, it is garbage" * 100)
    run = sqlite_project.cli(*verb)
    assert_one_line(run, USAGE, str(path))
    assert sqlite_project.tables() == set()
    assert path.is_dir() if kind == "folder" else path.read_bytes().startswith(b"this is")


BUSY_START = """
import asyncio, json, sqlite3, threading, time

from settings import TORTOISE_ORM
from tortoise import Tortoise

import tortoise_march_ext as march

PATH = TORTOISE_ORM["connections"]["default"].removeprefix("sqlite://")
held = threading.Event()


def hold() -> None:
    # Another process creating the same new database: it holds it locked for longer than
    # the busy timeout of Tortoise's connection, whose `PRAGMA journal_mode=WAL` then fails.
    conn = sqlite3.connect(PATH, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    held.set()
    time.sleep(6)
    conn.execute("COMMIT")
    conn.close()


async def main() -> None:
    await Tortoise.init(config=TORTOISE_ORM)
    try:
        report = await march.ensure_migrated()
        conn = Tortoise.get_connection("default")
        _, rows = await conn.execute_query("PRAGMA foreign_keys")
        print(json.dumps({"applied": report.applied, "foreign_keys": rows[0][0]}))
    finally:
        await Tortoise.close_connections()


thread = threading.Thread(target=hold)
thread.start()
held.wait()
asyncio.run(main())
thread.join()
"""


def test_a_new_sqlite_database_locked_by_another_process_is_waited_for(
    sqlite_project: NotesProject,
) -> None:
    # Several processes starting on a new SQLite file at once: the one whose connect finds the
    # file locked waits instead of failing, and its connection still gets every pragma.
    done = run_python(sqlite_project.root, sqlite_project.env(), BUSY_START)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"applied": ["notes.0001_initial"], "foreign_keys": 1}
