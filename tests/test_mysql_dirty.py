"""MariaDB has no transactional DDL: a migration stopped half-way is marked, reported, resolved.

A five-statement migration (five CREATE TABLE) is killed after statement k, k = 1..5, by a
RunPython hook in the migration itself that SIGKILLs its own process when an environment variable
names it; each time the recorder has no row for it, the mark says how far it got, the next
``migrate`` (and ``ensure_migrated()``) refuses with one line naming it, what ran and what did not
and ``--resolve``, and ``--resolve applied|unapplied`` lets migrate go on. Real MariaDB, real
processes (the CLI as users run it).
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import _mysql_parts
from tests.lockproject import INITIAL, NotesProject, Run
from tests.test_concurrency import migrate_at_once

PROGRESS = "tortoise_march_progress"
RECORDER = "tortoise_march_migrations"
TABLES = [f"t{n}" for n in range(1, 6)]

# Five statements, each followed by a hook that kills the process (forwards: after statement k
# when MARCH_TEST_STOP_AFTER=k; backwards: before undoing statement k when MARCH_TEST_STOP_UNDO=k).
FIVE = '''\
"""Five tables, one statement each, with a hook after each statement."""

import os
import signal

from tortoise_march_ext import migrations


def stop(variable, number):
    def hook(apps):
        if os.environ.get(variable) == str(number):
            os.kill(os.getpid(), signal.SIGKILL)

    hook.__name__ = f"{variable.lower()}_{number}"
    return hook


def steps():
    for n in range(1, 6):
        yield migrations.RunSQL(
            f"CREATE TABLE t{n} (id INT NOT NULL PRIMARY KEY)", f"DROP TABLE t{n}"
        )
        yield migrations.RunPython(
            stop("MARCH_TEST_STOP_AFTER", n), stop("MARCH_TEST_STOP_UNDO", n)
        )


class Migration(migrations.Migration):
    dependencies = (("notes", "0001_initial"),)

    operations = tuple(steps())
'''
TOTAL = 10  # five CREATE TABLE and five hooks


class MysqlNotes(NotesProject):
    """The notes project on a MariaDB database, read back through asyncmy."""

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one query on the database and return its rows."""
        return asyncio.run(_fetch(self.url.rsplit("/", 1)[1].partition("?")[0], sql))

    def tables(self) -> set[str]:
        """Return the tables of the database."""
        rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()"
        )
        return {r[0] for r in rows}

    def marks(self) -> list[tuple[Any, ...]]:
        """Return (app, name, direction, total, done) of every mark; [] without the table."""
        if PROGRESS not in self.tables():
            return []
        return self.query(
            f"SELECT app, name, direction, statements_total, statements_done FROM {PROGRESS}"
        )

    def run_with(self, *args: str, **env: str) -> Run:
        """Run the CLI with extra environment variables."""
        done = subprocess.run(
            [sys.executable, "-m", "tortoise_march_ext", *args],
            cwd=self.root,
            env={**self.env(), **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)


async def _fetch(database: str, sql: str) -> list[tuple[Any, ...]]:
    import asyncmy

    conn = await asyncmy.connect(**_mysql_parts(), db=database, autocommit=True)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(sql)
            return [tuple(r) for r in await cursor.fetchall()]
    finally:
        conn.close()


def execute(project: MysqlNotes, *statements: str) -> None:
    """Run statements by hand (what a user fixing the database does)."""
    for sql in statements:
        project.query(sql)


@pytest.fixture
def notes(mysql_url: str, tmp_path: Path) -> Iterator[MysqlNotes]:
    """The notes project with 0001_initial and the five-statement 0002_five on MariaDB."""
    project = MysqlNotes(tmp_path / "project", mysql_url)
    project.write("0001_initial", INITIAL)
    project.write("0002_five", FIVE)
    yield project


def one_error_line(run: Run) -> str:
    """Return the single stderr line of a refused run."""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), run
    return lines[0]


def killed_after(project: MysqlNotes, k: int) -> None:
    """Run migrate with the hook after statement k armed; check what the kill left."""
    run = project.run_with("migrate", MARCH_TEST_STOP_AFTER=str(k))
    assert run.returncode == -signal.SIGKILL, run
    assert project.recorded() == [("notes", "0001_initial")]  # no row for 0002_five
    # k CREATE TABLE and the k - 1 hooks before the one that killed it.
    assert project.marks() == [("notes", "0002_five", "forwards", TOTAL, 2 * k - 1)]
    assert {t for t in TABLES if t in project.tables()} == set(TABLES[:k])


def assert_refusal(line: str, k: int) -> None:
    """The one line names the migration, the statements that ran and not, and --resolve."""
    assert "notes.0002_five stopped half-way" in line
    assert f"{2 * k - 1} of its {TOTAL} statement(s) ran" in line
    ran, _, rest = line.partition(" did not (")
    for n in range(1, k + 1):
        short = f"#{2 * n - 1} CREATE TABLE t{n} (id INT NOT NULL PRIMARY KEY)"
        # The last five that ran are named, the ones before counted.
        assert (short in ran) == (2 * n - 1 > 2 * k - 1 - 5), line
    if k > 3:
        assert f"({2 * k - 6} before, #{2 * k - 5} " in ran, line
    assert f"#{2 * k} Run Python code march_test_stop_after_{k}" in rest, line
    if k < 5:
        assert f"#{2 * k + 1} CREATE TABLE t{k + 1} (" in rest, line
    assert "migrate notes 0002_five --resolve applied" in line
    assert "--resolve unapplied" in line


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_killed_after_each_statement_is_reported_and_resolvable(notes: MysqlNotes, k: int) -> None:
    killed_after(notes, k)
    refused = notes.cli("migrate")
    assert refused.returncode == 2, refused
    assert_refusal(one_error_line(refused), k)
    shown = notes.cli("showmigrations")
    assert (
        f" [ ] 0002_five  (stopped half-way applying it: {2 * k - 1} of {TOTAL} statement(s) "
        "ran; migrate notes 0002_five --resolve applied|unapplied)"
    ) in shown.stdout.splitlines(), shown
    # Refusing changed nothing.
    assert notes.marks() == [("notes", "0002_five", "forwards", TOTAL, 2 * k - 1)]
    assert notes.recorded() == [("notes", "0001_initial")]

    if k % 2:  # undo by hand what ran, then say none of it is left
        execute(notes, *(f"DROP TABLE t{n}" for n in range(1, k + 1)))
        resolved = notes.cli("migrate", "notes", "0002_five", "--resolve", "unapplied")
        assert resolved.returncode == 0, resolved
        assert "Resolved notes.0002_five as unapplied" in resolved.stdout
        assert notes.marks() == []
        assert notes.recorded() == [("notes", "0001_initial")]
        again = notes.cli("migrate")
        assert again.returncode == 0, again
        assert "Apply notes.0002_five... Done" in again.stdout
    else:  # complete by hand what did not run, then say all of it is there
        execute(notes, *(f"CREATE TABLE t{n} (id INT PRIMARY KEY)" for n in range(k + 1, 6)))
        resolved = notes.cli("migrate", "notes", "0002_f", "--resolve", "applied")
        assert resolved.returncode == 0, resolved
        assert notes.marks() == []
        again = notes.cli("migrate")
        assert again.returncode == 0 and "No migrations to apply." in again.stdout, again
    assert notes.recorded() == [("notes", "0001_initial"), ("notes", "0002_five")]
    assert set(TABLES) <= notes.tables()
    assert notes.marks() == []


ENSURE = textwrap.dedent(
    """
    import asyncio
    from settings import TORTOISE_ORM
    from tortoise import Tortoise
    import tortoise_march_ext as march

    async def main():
        await Tortoise.init(config=TORTOISE_ORM)
        try:
            await march.ensure_migrated()
        except march.MarchError as exc:
            print(type(exc).__name__, exc)
        else:
            print("migrated")
        finally:
            await Tortoise.close_connections()

    asyncio.run(main())
    """
)


def test_ensure_migrated_refuses_too(notes: MysqlNotes) -> None:
    killed_after(notes, 3)
    done = subprocess.run(
        [sys.executable, "-c", ENSURE],
        cwd=notes.root,
        env=notes.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("HalfApplied migration notes.0002_five stopped half-way")
    assert_refusal("error: " + done.stdout.split(" ", 1)[1], 3)
    assert notes.marks() == [("notes", "0002_five", "forwards", TOTAL, 5)]


def test_a_backwards_migration_killed_half_way(notes: MysqlNotes) -> None:
    assert notes.cli("migrate").returncode == 0
    # Unapplying runs hook 5, DROP t5, hook 4, DROP t4, then hook 3 kills it.
    run = notes.run_with("migrate", "notes", "0001", MARCH_TEST_STOP_UNDO="3")
    assert run.returncode == -signal.SIGKILL, run
    assert notes.recorded() == [("notes", "0001_initial"), ("notes", "0002_five")]
    assert notes.marks() == [("notes", "0002_five", "backwards", TOTAL, 4)]
    line = one_error_line(notes.cli("migrate", "notes", "0001"))
    assert "while unapplying it" in line and "4 of its 10 statement(s) ran" in line
    assert "#2 DROP TABLE t5" in line and "#4 DROP TABLE t4" in line
    assert "#6 DROP TABLE t3" in line.partition(" did not (")[2]
    # Finish the unapply by hand: it is no longer applied.
    execute(notes, "DROP TABLE t3", "DROP TABLE t2", "DROP TABLE t1")
    resolved = notes.cli("migrate", "notes", "0002_five", "--resolve", "unapplied")
    assert resolved.returncode == 0, resolved
    assert notes.recorded() == [("notes", "0001_initial")]
    assert notes.marks() == []
    assert notes.cli("migrate").returncode == 0
    assert set(TABLES) <= notes.tables()


def test_resolve_applied_keeps_a_backwards_migration_applied(notes: MysqlNotes) -> None:
    assert notes.cli("migrate").returncode == 0
    run = notes.run_with("migrate", "notes", "0001", MARCH_TEST_STOP_UNDO="5")
    assert run.returncode == -signal.SIGKILL, run
    assert notes.marks() == [("notes", "0002_five", "backwards", TOTAL, 0)]
    resolved = notes.cli("migrate", "notes", "0002_five", "--resolve", "applied")
    assert resolved.returncode == 0, resolved
    assert notes.recorded() == [("notes", "0001_initial"), ("notes", "0002_five")]
    assert notes.marks() == []
    assert "No migrations to apply." in notes.cli("migrate").stdout


def test_resolve_bad_input_is_one_line_and_changes_nothing(notes: MysqlNotes) -> None:
    killed_after(notes, 2)
    for args, words in [
        (("--resolve", "maybe"), "say applied"),
        (("--resolve", "applied", "--fake"), "--resolve needs APP NAME"),
        (("--resolve", "applied"), "--resolve needs APP NAME"),
    ]:
        name = () if args == ("--resolve", "applied") else ("notes", "0002_five")
        run = notes.cli("migrate", *name, *args)
        assert run.returncode == 2, run
        assert words in one_error_line(run), run
    run = notes.cli("migrate", "notes", "0001_initial", "--resolve", "applied")
    assert run.returncode == 2, run
    line = one_error_line(run)
    assert "notes.0001_initial is not marked as stopped half-way" in line
    assert "marked: notes.0002_five" in line
    assert notes.marks() == [("notes", "0002_five", "forwards", TOTAL, 3)]
    assert notes.recorded() == [("notes", "0001_initial")]


FAILING = '''\
"""Two tables, then a statement that fails."""

from tortoise_march_ext import migrations


class Migration(migrations.Migration):
    dependencies = (("notes", "0001_initial"),)

    operations = (
        migrations.RunSQL("CREATE TABLE t1 (id INT PRIMARY KEY)", "DROP TABLE t1"),
        migrations.RunSQL("CREATE TABLE t2 (id INT PRIMARY KEY)", "DROP TABLE t2"),
        migrations.RunSQL("CREATE TABLE t1 (id INT PRIMARY KEY)", "DROP TABLE t1"),
    )
'''
FAILS_FIRST = '''\
"""A statement that fails first."""

from tortoise_march_ext import migrations


class Migration(migrations.Migration):
    dependencies = (("notes", "0001_initial"),)

    operations = (
        migrations.RunSQL("CREATE TABLE note (id INT PRIMARY KEY)", "DROP TABLE note"),
        migrations.RunSQL("CREATE TABLE t1 (id INT PRIMARY KEY)", "DROP TABLE t1"),
    )
'''


def test_a_failure_half_way_is_marked_and_says_how_to_resolve(
    mysql_url: str, tmp_path: Path
) -> None:
    project = MysqlNotes(tmp_path / "project", mysql_url)
    project.write("0001_initial", INITIAL)
    project.write("0002_fails", FAILING)
    run = project.cli("migrate")
    assert run.returncode == 3, run
    line = one_error_line(run)
    assert "the 2 statement(s) before it ran and stay" in line
    assert "migrate notes 0002_fails --resolve applied" in line
    assert project.marks() == [("notes", "0002_fails", "forwards", 3, 2)]
    refused = project.cli("migrate")
    assert refused.returncode == 2
    assert "2 of its 3 statement(s) ran" in one_error_line(refused)


def test_a_failure_before_anything_ran_leaves_no_mark(mysql_url: str, tmp_path: Path) -> None:
    project = MysqlNotes(tmp_path / "project", mysql_url)
    project.write("0001_initial", INITIAL)
    project.write("0002_fails", FAILS_FIRST)
    run = project.cli("migrate")
    assert run.returncode == 3, run
    assert "nothing of this migration was kept" in one_error_line(run)
    assert project.marks() == []
    assert "t1" not in project.tables()
    assert project.recorded() == [("notes", "0001_initial")]
    # The next run is not refused: it fails the same way (the file is still wrong).
    again = project.cli("migrate")
    assert again.returncode == 3 and "stopped half-way" not in again.stderr


RUN_PYTHON_FAILS = '''\
"""A table, then Python code that writes a row and fails."""

from tortoise_march_ext import migrations


async def write_then_fail(apps):
    await apps.get_model("notes.Note").create(text="written")
    raise RuntimeError("the data migration failed")


class Migration(migrations.Migration):
    dependencies = (("notes", "0001_initial"),)

    operations = (
        migrations.RunSQL("CREATE TABLE t1 (id INT PRIMARY KEY)", "DROP TABLE t1"),
        migrations.RunPython(write_then_fail),
    )
'''


def test_run_python_still_runs_in_a_transaction(mysql_url: str, tmp_path: Path) -> None:
    project = MysqlNotes(tmp_path / "project", mysql_url)
    project.write("0001_initial", INITIAL)
    project.write("0002_data", RUN_PYTHON_FAILS)
    run = project.cli("migrate")
    assert run.returncode == 3, run
    assert project.notes() == []  # the row it wrote was rolled back with its transaction
    assert project.marks() == [("notes", "0002_data", "forwards", 2, 1)]
    line = one_error_line(project.cli("migrate"))
    assert "#1 CREATE TABLE t1" in line
    assert "1 did not (#2 Run Python code write_then_fail)" in line
    # Python code and data changes are known not to have run: no "may have run".
    assert "may have run" not in line


def test_plan_and_sqlmigrate_say_what_cannot_be_rolled_back(notes: MysqlNotes) -> None:
    note = "(not transactional on mysql: a failure half-way needs --resolve)"
    plan = notes.cli("migrate", "--plan")
    assert plan.returncode == 0, plan
    assert f"Apply notes.0001_initial  {note}" in plan.stdout
    assert f"Apply notes.0002_five  {note}" in plan.stdout
    sql = notes.cli("migrate", "--sql", "--skip-python")  # 0002_five runs Python code
    assert f"-- Apply notes.0002_five {note}" in sql.stdout
    shown = notes.cli("sqlmigrate", "notes", "0002_five")
    assert shown.returncode == 0, shown
    lines = shown.stdout.splitlines()
    assert lines[0] == f"-- Apply notes.0002_five {note}"
    assert lines[1] == "CREATE TABLE t1 (id INT NOT NULL PRIMARY KEY)"
    assert notes.tables() == set()  # printing ran nothing


def test_eight_processes_ensure_migrated_apply_once(notes: MysqlNotes, tmp_path: Path) -> None:
    outcomes = migrate_at_once(notes.root, notes.url, tmp_path / "barrier")
    failures = [o for o in outcomes if o.returncode != 0 or o.stderr.strip()]
    assert not failures, "\n\n".join(f"exit {o.returncode}\n{o.stderr}" for o in failures)
    applied = [o.report["applied"] for o in outcomes if o.report["applied"]]
    assert applied == [["notes.0001_initial", "notes.0002_five"]], [o.report for o in outcomes]
    assert notes.recorded() == [("notes", "0001_initial"), ("notes", "0002_five")]
    assert notes.marks() == []
    assert set(TABLES) | {"note"} <= notes.tables()


def test_ctrl_c_half_way_says_what_ran_and_how_to_resolve(mysql_url: str, tmp_path: Path) -> None:
    from tests.test_interrupt import INTERRUPTED, SLOW_PYTHON, assert_one_line, interrupt_when

    project = MysqlNotes(tmp_path / "project", mysql_url)
    project.write("0001_initial", INITIAL)
    assert project.cli("migrate").returncode == 0
    project.write("0002_slow", SLOW_PYTHON.replace("{atomic}", "True"))
    code, stderr = interrupt_when(project, (project.root / "inside-slow-migration").exists)
    assert code == INTERRUPTED, stderr
    assert_one_line(
        stderr,
        "during Apply notes.0002_slow on a database without transactional DDL",
        "1 of its 2 statement(s) ran",
        "migrate notes 0002_slow --resolve applied (or unapplied)",
    )
    assert "made_before_sleep" in project.tables()
    assert project.notes() == []  # the RunPython's row went with its transaction
    assert project.recorded() == [("notes", "0001_initial")]
    assert project.marks() == [("notes", "0002_slow", "forwards", 2, 1)]


def test_a_pool_of_one_connection_is_enough(mysql_url: str, tmp_path: Path) -> None:
    # DDL runs on a pinned connection, Python code in transactions: never both at once.
    project = MysqlNotes(tmp_path / "project", f"{mysql_url}?minsize=1&maxsize=1")
    project.write("0001_initial", INITIAL)
    project.write("0002_five", FIVE)
    run = project.cli("migrate", timeout=60)
    assert run.returncode == 0, run
    assert project.recorded() == [("notes", "0001_initial"), ("notes", "0002_five")]
    assert project.marks() == []


def test_a_mark_whose_file_is_gone(notes: MysqlNotes) -> None:
    killed_after(notes, 2)
    (notes.folder / "0002_five.py").unlink()
    line = one_error_line(notes.cli("migrate"))
    assert "3 of its 10 statement(s) ran (its file is gone)" in line
    refused = notes.cli("migrate", "notes", "0002_five", "--resolve", "applied")
    assert refused.returncode == 2, refused
    assert "the file of notes.0002_five is gone" in one_error_line(refused)
    assert notes.marks() == [("notes", "0002_five", "forwards", TOTAL, 3)]
    execute(notes, "DROP TABLE t1", "DROP TABLE t2")
    resolved = notes.cli("migrate", "notes", "0002_five", "--resolve", "unapplied")
    assert resolved.returncode == 0, resolved
    assert notes.marks() == []
    assert notes.cli("migrate").stdout.strip() == "No migrations to apply."
