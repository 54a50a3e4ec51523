"""Tables made by ``Tortoise.generate_schemas()`` before the first migration ran.

`migrate` and ``ensure_migrated()`` on such a database stop with one line that names the tables and
the fix, and change nothing. PostgreSQL and SQLite files, in real processes.
"""

from __future__ import annotations

import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cliproject import error_problems, run_python
from tests.lockproject import INITIAL, RECORDER, SEED, NotesProject, notes_project

GENERATE = textwrap.dedent(
    """
    from tortoise import Tortoise, run_async
    from settings import TORTOISE_ORM

    async def main():
        await Tortoise.init(config=TORTOISE_ORM)
        await Tortoise.generate_schemas()

    run_async(main())
    """
)
# What an application does at start-up with RegisterTortoise(..., generate_schemas=True) and
# march.ensure_migrated(): print the error line it gets.
APP_START = textwrap.dedent(
    """
    import asyncio
    from tortoise import Tortoise
    from settings import TORTOISE_ORM
    import tortoise_march_ext as march

    async def main():
        await Tortoise.init(config=TORTOISE_ORM)
        await Tortoise.generate_schemas()
        try:
            await march.ensure_migrated()
        except march.MarchError as exc:
            print(f"{type(exc).__name__}: {exc}")
        finally:
            await Tortoise.close_connections()

    asyncio.run(main())
    """
)


@pytest.fixture(params=["sqlite", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NotesProject]:
    """Yield the notes project with two migrations, on an empty database of each backend."""
    files = {"0001_initial": INITIAL, "0002_seed": SEED}
    with notes_project(request.param, tmp_path, files) as made:
        yield made


def python(project: NotesProject, source: str) -> subprocess.CompletedProcess[str]:
    """Run a Python script in the project folder."""
    return run_python(project.root, project.env(), source)


def test_migrate_after_generate_schemas_names_the_tables_and_the_fix(
    project: NotesProject,
) -> None:
    made = python(project, GENERATE)
    assert made.returncode == 0, made.stderr
    assert project.tables() == {"note"}
    run = project.cli("migrate")
    problems = error_problems(run, 2, "note", "generate_schemas", "--fake")  # type: ignore[arg-type]
    assert not problems, "; ".join(problems) + f"\n{run}"
    assert project.tables() == {"note"}
    assert project.notes() == []


def test_ensure_migrated_after_generate_schemas_is_one_clear_error(project: NotesProject) -> None:
    started = python(project, APP_START)
    assert started.returncode == 0 and not started.stderr, started.stderr
    lines = started.stdout.strip().splitlines()
    assert len(lines) == 1, started.stdout
    assert lines[0].startswith("DatabaseError: "), lines[0]
    for word in ("note", "generate_schemas=True", "already"):
        assert word in lines[0], lines[0]
    assert project.tables() == {"note"}
    assert project.notes() == []


def test_faking_the_initial_migration_then_migrate_works(project: NotesProject) -> None:
    assert python(project, GENERATE).returncode == 0
    faked = project.cli("migrate", "notes", "0001_initial", "--fake")
    assert faked.returncode == 0, faked
    run = project.cli("migrate")
    assert run.returncode == 0, run
    assert project.recorded() == [("notes", "0001_initial"), ("notes", "0002_seed")]
    assert project.notes() == ["seed"]
    assert RECORDER in project.tables()
