"""Interrupted and cut-off CLI runs end with one line (or none), never a traceback.

Ctrl-C (SIGINT) sent to a real `migrate` process inside a slow migration: exit 130, one line on
stderr saying what was kept, and for an atomic migration the database and recorder as they were
before it. A closed stdout pipe ends quietly; a SQLite path in a missing folder prints one line.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import drop_pg_database, new_pg_database, require_postgres
from tests.lockproject import INITIAL, NotesProject, notes_project, pg_fetch

INTERRUPTED = 130
SLOW_PYTHON = '''\
"""Insert a note, then wait a long time."""

import asyncio
from pathlib import Path

from tortoise_march_ext import migrations


async def slow(apps):
    await apps.get_model("notes.Note").create(text="half")
    Path("inside-slow-migration").touch()
    await asyncio.sleep(60)


class Migration(migrations.Migration):
    atomic = {atomic}

    dependencies = (("notes", "0001_initial"),)

    operations = (
        migrations.RunSQL("CREATE TABLE made_before_sleep (id INT)"),
        migrations.RunPython(slow),
    )
'''
SLOW_SQL = '''\
"""Create a table, then sleep in the server."""

from tortoise_march_ext import migrations


class Migration(migrations.Migration):
    dependencies = (("notes", "0001_initial"),)

    operations = (
        migrations.RunSQL("CREATE TABLE made_before_sleep (id INT)"),
        migrations.RunSQL("SELECT pg_sleep(60)"),
    )
'''


@pytest.fixture(params=["sqlite", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotesProject]:
    """Yield the notes project with its initial migration applied, on each backend."""
    with notes_project(request.param, tmp_path, {"0001_initial": INITIAL}) as made:
        first = made.cli("migrate")
        assert first.returncode == 0, first
        yield made


def interrupt_when(project: NotesProject, inside: Callable[[], bool]) -> tuple[int, str]:
    """Start `migrate`, send SIGINT once ``inside()`` holds; return exit code and stderr."""
    proc = project.popen("migrate")
    try:
        deadline = time.monotonic() + 120
        while not inside():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "migrate never reached the slow migration"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
        return proc.returncode, stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def in_python(project: NotesProject) -> Callable[[], bool]:
    """Return a check that the slow RunPython has started."""
    return (project.root / "inside-slow-migration").exists


def assert_one_line(stderr: str, *words: str) -> str:
    """Assert stderr is one line naming ``words``, without a traceback; return the line."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def test_ctrl_c_in_an_atomic_migration_keeps_nothing_of_it(project: NotesProject) -> None:
    project.write("0002_slow", SLOW_PYTHON.replace("{atomic}", "True"))
    before = project.tables()
    code, stderr = interrupt_when(project, in_python(project))
    assert code == INTERRUPTED, stderr
    assert_one_line(stderr, "0002_slow", "nothing of it was kept", "before it stay applied")
    assert project.tables() == before
    assert project.recorded() == [("notes", "0001_initial")]
    assert project.notes() == []
    again = project.cli("migrate", "--plan")
    assert "Apply notes.0002_slow" in again.stdout, again


def test_ctrl_c_in_a_non_atomic_migration_says_what_was_kept(project: NotesProject) -> None:
    project.write("0002_slow", SLOW_PYTHON.replace("{atomic}", "False"))
    code, stderr = interrupt_when(project, in_python(project))
    assert code == INTERRUPTED, stderr
    assert_one_line(stderr, "0002_slow", "not atomic", "1 of its 2 statement(s) were kept")
    assert "made_before_sleep" in project.tables()
    assert project.recorded() == [("notes", "0001_initial")]


def test_ctrl_c_during_a_server_side_statement(tmp_path: Path) -> None:
    require_postgres()
    url = new_pg_database()
    try:
        project = NotesProject(tmp_path / "project", url)
        project.write("0001_initial", INITIAL)
        project.write("0002_slow", SLOW_SQL)

        def sleeping() -> bool:
            return bool(
                pg_fetch(
                    url,
                    "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' "
                    "AND state = 'active'",
                )
            )

        code, stderr = interrupt_when(project, sleeping)
        assert code == INTERRUPTED, stderr
        line = assert_one_line(stderr, "0002_slow", "nothing of it was kept")
        assert "(1 by this run, the last notes.0001_initial)" in line, line
        assert project.recorded() == [("notes", "0001_initial")]
        assert "made_before_sleep" not in project.tables()
        assert "note" in project.tables()
        locks = pg_fetch(
            url,
            "SELECT 1 FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
            "WHERE l.locktype = 'advisory' AND d.datname = current_database()",
        )
        assert locks == []
    finally:
        drop_pg_database(url)


def test_closed_stdout_pipe_ends_quietly(tmp_path: Path) -> None:
    project = NotesProject(tmp_path / "project", f"sqlite://{tmp_path / 'db.sqlite3'}")
    project.write("0001_initial", INITIAL)
    for args in (["lint", "--format", "json"], ["showmigrations"]):
        proc = project.popen(*args)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the tool writes anything
        stderr = proc.stderr.read()
        proc.wait(timeout=60)
        proc.stderr.close()
        assert stderr == "", stderr
        assert proc.returncode == 141, (args, proc.returncode)


def test_sqlite_file_in_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    project = NotesProject(tmp_path / "project", "sqlite:///no/such/dir/db.sqlite3")
    project.write("0001_initial", INITIAL)
    # The thread traceback came from a race with the closing event loop: try a few times.
    for _ in range(3):
        run = project.cli("migrate")
        assert run.returncode == 2, run
        line = assert_one_line(run.stderr, "error: ", "unable to open database file")
        assert "unexpected" not in line, line
    assert not Path("/no/such/dir").exists()
