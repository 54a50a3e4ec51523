"""``migrate --fake-initial`` through the real CLI, on PostgreSQL and SQLite.

An initial migration whose tables exist is recorded without running only when the live tables
match what it builds; a database that differs is refused with one line per difference.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.cliproject import CliProject, make_project, run_python, show
from tests.harness import Backend

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
NEW_FIELD = "phone = fields.CharField(max_length=30, null=True)"


def generated(tmp_path: Path, backend: Backend) -> CliProject:
    """Return the example project whose database generate_schemas() built from the models of
    0001_initial, with a second migration (a new column) written after."""
    project = make_project(tmp_path, backend.new_url())
    project.ok("makemigrations")
    made = run_python(project.root, project.env(), GENERATE)
    assert made.returncode == 0, made.stderr
    project.add_contact_field(NEW_FIELD)
    project.ok("makemigrations")
    assert len(project.migration_names()) == 2
    return project


def test_generated_database_is_adopted_then_migrated(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    result = project.run("migrate", "--fake-initial")
    assert result.returncode == 0, show(result)
    first, second = project.migration_names()
    assert project.recorded() == [first[:-3], second[:-3]]
    assert "Faked" in result.stdout and "Done" in result.stdout, show(result)
    assert "phone" in backend.introspect(project.database_url)["contact"]["columns"]
    assert project.run("check", "--schema").returncode == 0


def test_a_table_that_differs_is_refused(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    backend.execute(project.database_url, "ALTER TABLE tag DROP COLUMN label")
    before = project.snapshot()
    result = project.run("migrate", "--fake-initial")
    assert result.returncode == 2, show(result)
    lines = [line for line in result.stderr.splitlines() if "column label" in line]
    assert len(lines) == 1, show(result)
    assert "contacts.Tag" in lines[0] and "missing in the database" in lines[0], show(result)
    assert project.recorded() == []
    assert project.snapshot() == before


def test_an_empty_database_runs_the_initial_migration(tmp_path: Path, backend: Backend) -> None:
    project = make_project(tmp_path, backend.new_url())
    project.ok("makemigrations")
    result = project.run("migrate", "--fake-initial")
    assert result.returncode == 0, show(result)
    assert "Done" in result.stdout and "Faked" not in result.stdout, show(result)
    assert {"company", "contact", "tag"} <= project.tables()
    assert len(project.recorded()) == 1


def test_plain_migrate_on_a_generated_database_names_fake_initial(
    tmp_path: Path, backend: Backend
) -> None:
    project = generated(tmp_path, backend)
    before = project.snapshot()
    result = project.run("migrate")
    assert result.returncode == 2, show(result)
    (line,) = result.stderr.strip().splitlines()
    for word in ("generate_schemas", "built another way", "migrate --fake-initial"):
        assert word in line, show(result)
    assert project.snapshot() == before


NOTES_MODELS = textwrap.dedent(
    """
    from tortoise import fields
    from tortoise.models import Model

    import tortoise_march_ext as march


    class Note(Model):
        id = fields.IntField(primary_key=True)
        text = fields.CharField(max_length=100)

        class Meta(march.Meta):
            table = "note"
    """
)


def test_an_initial_migration_failing_on_an_existing_table_names_fake_initial(
    tmp_path: Path, backend: Backend
) -> None:
    # A second app on a connection that already recorded the first one's migrations: its table
    # made by hand is only found when its initial migration fails on it.
    project = make_project(tmp_path, backend.new_url())
    (project.root / "notes").mkdir()
    (project.root / "notes" / "__init__.py").write_text("", encoding="utf-8")
    (project.root / "notes" / "models.py").write_text(NOTES_MODELS, encoding="utf-8")
    project.replace_in(
        project.root / "settings.py",
        '"apps": {',
        '"apps": {"notes": {"models": ["notes.models"], "default_connection": "default"}, ',
    )
    project.ok("makemigrations")
    project.ok("migrate", "contacts")
    backend.execute(project.database_url, "CREATE TABLE note (id INTEGER PRIMARY KEY)")
    result = project.run("migrate")
    assert result.returncode != 0, show(result)
    (line,) = result.stderr.strip().splitlines()
    for word in ("already exists", "built another way", "migrate --fake-initial"):
        assert word in line, show(result)


def test_fake_warns_for_a_faked_migration_whose_tables_differ(
    tmp_path: Path, backend: Backend
) -> None:
    project = generated(tmp_path, backend)
    first = project.migration_names()[0][:-3]
    backend.execute(project.database_url, "ALTER TABLE tag DROP COLUMN label")
    result = project.run("migrate", "contacts", first, "--fake")
    assert result.returncode == 0, show(result)
    assert project.recorded() == [first]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1, show(result)
    assert first in warnings[0] and "column label is missing" in warnings[0], show(result)


def test_fake_on_a_matching_database_does_not_warn(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    first = project.migration_names()[0][:-3]
    result = project.run("migrate", "contacts", first, "--fake")
    assert result.returncode == 0, show(result)
    assert "warning" not in result.stderr, show(result)
