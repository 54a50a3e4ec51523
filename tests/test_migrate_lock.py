"""`migrate` processes started at once: one applies, the others wait and find nothing left.

Real processes on PostgreSQL and on a SQLite file, released together behind a file barrier, for
several rounds on an empty database each. The second migration is a RunPython that inserts a row,
so a migration applied twice shows as two rows (or as a failing process).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import drop_pg_database, new_pg_database, require_postgres
from tests.lockproject import INITIAL, RECORDER, SEED, NotesProject, Run, pg_fetch

ROUNDS = int(os.environ.get("MARCH_LOCK_ROUNDS", "10"))
APPLIED = [("notes", "0001_initial"), ("notes", "0002_seed")]


class Databases:
    """Empty databases of one backend, one per round: a fresh SQLite file, or the one PostgreSQL
    database of the test with the tables of the round before dropped."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.tmp_path = tmp_path
        self.pg_url = new_pg_database() if kind == "postgres" else ""

    def fresh(self, number: int) -> str:
        """Return the URL of an empty database."""
        if self.kind == "postgres":
            pg_fetch(self.pg_url, f"DROP TABLE IF EXISTS note, {RECORDER}")
            return self.pg_url
        folder = self.tmp_path / f"db-{number}"
        folder.mkdir()
        return f"sqlite://{folder / 'db.sqlite3'}"

    def close(self) -> None:
        """Drop the PostgreSQL database."""
        if self.pg_url:
            drop_pg_database(self.pg_url)


@pytest.fixture(params=["sqlite", "postgres"])
def databases(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Databases]:
    """Yield a maker of empty databases of each backend."""
    if request.param == "postgres":
        require_postgres()
    made = Databases(request.param, tmp_path)
    try:
        yield made
    finally:
        made.close()


def problems_of_round(runs: list[Run], project: NotesProject, verb: str = "Done") -> list[str]:
    """Return how one round broke "every process exits 0 and each migration runs once"."""
    problems = [f"a process failed:\n{run}" for run in runs if run.returncode != 0]
    # Faking on an empty database warns (once, in the process that faked) that its table is missing.
    faked = "warning: notes.0001_initial was recorded but" if verb == "Faked" else None
    problems += [
        f"a process wrote to stderr:\n{run}"
        for run in runs
        if run.stderr.strip()
        and not (faked and run.stderr.startswith(faked) and run.stderr.count("\n") == 1)
    ]
    appliers = [run for run in runs if f"Apply notes.0001_initial... {verb}" in run.stdout]
    if len(appliers) != 1:
        problems.append(f"{len(appliers)} processes applied 0001_initial")
    for run in runs:
        if run not in appliers and run.stdout.strip() != "No migrations to apply.":
            problems.append(f"a process neither applied nor said it found nothing left:\n{run}")
    return problems


@pytest.mark.parametrize("processes", [2, 8])
def test_concurrent_migrate_applies_each_migration_once(
    databases: Databases, tmp_path: Path, processes: int
) -> None:
    project = NotesProject(tmp_path / "project", "")
    project.write("0001_initial", INITIAL)
    project.write("0002_seed", SEED)
    with project.workers(processes, tmp_path / "barrier", "migrate") as workers:
        for number in range(ROUNDS):
            project.url = databases.fresh(number)
            runs = workers.run_round(project.url)
            problems = problems_of_round(runs, project)
            if project.recorded() != APPLIED:
                problems.append(f"recorder rows {project.recorded()}, expected {APPLIED}")
            if project.notes() != ["seed"]:
                problems.append(f"the data migration inserted {project.notes()}, not one row")
            assert not problems, f"round {number + 1}/{ROUNDS}: " + "\n".join(problems)


def test_concurrent_fake_records_each_migration_once(databases: Databases, tmp_path: Path) -> None:
    project = NotesProject(tmp_path / "project", "")
    project.write("0001_initial", INITIAL)
    with project.workers(4, tmp_path / "barrier", "migrate", "--fake") as workers:
        for number in range(3):
            project.url = databases.fresh(number)
            problems = problems_of_round(workers.run_round(project.url), project, "Faked")
            assert not problems, f"round {number + 1}: " + "\n".join(problems)
            assert project.recorded() == [("notes", "0001_initial")]
            assert "note" not in project.tables()
