"""squashmigrations: one optimised migration replacing a run of them, on both backends.

The history below has a hand-written RunPython migration (with a helper, a constant and an
import) in the middle; the squash must copy those, and databases in every position (fresh, all
old migrations applied, some applied) must end with the same schema and rows.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from tortoise import Tortoise

import tortoise_march_ext as march
from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext import commands
from tortoise_march_ext.engine.replacements import apply_replacements
from tortoise_march_ext.exceptions import GraphError, HistoryError
from tortoise_march_ext.project import drift_check_suppressed
from tortoise_march_ext.runtime.ensure import MigrationReport

GOLDEN = Path(__file__).parent / "golden"
NAME = 'name = fields.CharField(max_length=50, default="")'
BACKFILL = '''"""Seed one person, the way a hand-written data migration would."""

import datetime  # used by the helper

from tortoise_march_ext import migrations

SEED = "seed"


def _age() -> int:
    return datetime.date(2020, 1, 1).year - 1990


async def forwards(apps):
    # historical model: age is still an int here
    Person = apps.get_model("app.Person")
    await Person.create(name=SEED, age=_age())


async def backwards(apps):
    Person = apps.get_model("app.Person")
    await Person.filter(name=SEED).delete()


class Migration(migrations.Migration):
    dependencies = (("app", "0002_person_age"),)

    operations = (migrations.RunPython(forwards, backwards),)
'''
VERSIONS = [
    [model("Person", f"{ID}\n{NAME}")],
    [model("Person", f"{ID}\n{NAME}\nage = fields.IntField(null=True)")],
    [model("Person", f"{ID}\n{NAME}\nage = fields.BigIntField(null=True)")],
    [
        model("Person", f"{ID}\n{NAME}\nage = fields.BigIntField(null=True)"),
        model("Pet", f"{ID}\nowner = fields.ForeignKeyField('app.Person', null=True)"),
    ],
    [
        model("Person", f"{ID}\n{NAME}\nage = fields.BigIntField(null=True)"),
        model(
            "Pet",
            f"{ID}\nowner = fields.ForeignKeyField('app.Person', null=True)\n"
            "nick = fields.CharField(max_length=20, null=True)",
        ),
    ],
]
OLD = [
    "0001_initial",
    "0002_person_age",
    "0003_backfill",
    "0004_alter_person_age",
    "0005_pet",
    "0006_pet_nick",
]
SQUASH = "0002_person_age_squashed_0006_pet_nick"


def write_history(project: Project, upto: int = len(VERSIONS)) -> None:
    """Write the migrations of the first ``upto`` model versions (the backfill after v2)."""
    for number, classes in enumerate(VERSIONS[:upto], start=1):
        project.write_models({"app": models(*classes)})
        project.makemigrations()
        if number == 2:
            (project.migrations / "app" / "0003_backfill.py").write_text(BACKFILL)


def squash(project: Project, *names: str, **kwargs: object) -> commands.SquashResult:
    start, end = (None, *names) if len(names) == 1 else names
    return asyncio.run(commands.squashmigrations(project.config, "app", start, end, **kwargs))


def applied_names(result: commands.MigrateResult) -> list[str]:
    return [step.migration.name for step in result.steps]


def recorded(project: Project) -> list[str]:
    rows = project.backend.execute(
        project.url, "SELECT name FROM tortoise_march_migrations ORDER BY name"
    )
    return [row[0] for row in rows]


def seeds(project: Project) -> list[tuple[object, ...]]:
    return project.backend.execute(project.url, "SELECT name, age FROM person ORDER BY id")


@pytest.fixture
def project(backend: Backend, tmp_path: Path) -> Project:
    return Project(tmp_path, backend)


def test_squash_writes_the_golden_file_and_passes_ruff(tmp_path: Path) -> None:
    project = Project(tmp_path, Backend("sqlite", tmp_path))
    write_history(project)
    result = squash(project, "0002", "0006")
    assert result.name == SQUASH
    expected = (GOLDEN / f"{SQUASH}.py").read_text()
    assert result.path.read_text() == expected
    assert project.ruff() == ""
    assert [op.describe() for op in result.operations] == [
        "Add field age to Person",
        "Run Python code forwards",
        "Alter field age on Person",
        "Create model Pet",
    ]
    assert result.replaces == [("app", name) for name in OLD[1:]]


def test_a_fresh_database_applies_only_the_squash(project: Project) -> None:
    write_history(project)
    squash(project, "0002", "0006")
    assert applied_names(project.migrate()) == ["0001_initial", SQUASH]
    assert project.schema() == project.reference_schema()
    assert seeds(project) == [("seed", 30)]
    assert recorded(project) == sorted([*OLD, SQUASH])
    assert not project.makemigrations().changed
    # Unapplying the squash removes its rows and the old ones, and runs backwards.
    assert applied_names(project.migrate("app", "0001")) == [SQUASH]
    assert recorded(project) == ["0001_initial"]
    assert applied_names(project.migrate("app", "zero")) == ["0001_initial"]
    assert recorded(project) == []


def test_a_database_that_applied_the_old_migrations_counts_the_squash_applied(
    project: Project,
) -> None:
    write_history(project)
    project.migrate()
    squash(project, "0002", "0006")
    assert project.migrate().steps == []
    assert project.schema() == project.reference_schema()
    shown = asyncio.run(commands.showmigrations(project.config, "app"))
    assert [(e.name, e.applied) for e in shown] == [("0001_initial", True), (SQUASH, True)]
    # Deleting the replaced files later changes nothing for this database.
    for name in OLD[1:]:
        (project.migrations / "app" / f"{name}.py").unlink()
    assert project.migrate().steps == []
    assert applied_names(project.migrate("app", "0001")) == [SQUASH]
    assert recorded(project) == ["0001_initial"]
    assert applied_names(project.migrate()) == [SQUASH]
    assert seeds(project) == [("seed", 30)]


def test_a_database_half_way_finishes_with_the_old_migrations(project: Project) -> None:
    write_history(project)
    project.migrate("app", "0003")
    squash(project, "0002", "0006")
    # Without the old files a half-way database cannot continue: it says what to restore.
    kept = {name: (project.migrations / "app" / f"{name}.py").read_text() for name in OLD[3:]}
    for name in kept:
        (project.migrations / "app" / f"{name}.py").unlink()
    with pytest.raises(HistoryError, match="restore them from version control"):
        project.migrate()
    assert recorded(project) == OLD[:3]
    for name, text in kept.items():
        (project.migrations / "app" / f"{name}.py").write_text(text)
    assert applied_names(project.migrate()) == OLD[3:]
    assert project.schema() == project.reference_schema()
    assert seeds(project) == [("seed", 30)]
    assert project.migrate().steps == []
    # Once all are applied the squash is in use: the old names are no target any more.
    with pytest.raises(GraphError, match=f"replaced by the squash {SQUASH}"):
        project.migrate("app", "0003_backfill")


def test_squash_from_the_first_migration_and_a_later_migration_after_it(tmp_path: Path) -> None:
    project = Project(tmp_path, Backend("sqlite", tmp_path))
    write_history(project, 2)
    result = squash(project, "0003")
    assert result.name == "0001_initial_squashed_0003_backfill"
    assert "initial = True" in result.source
    assert [op.describe() for op in result.operations] == [
        "Create model Person",
        "Run Python code forwards",
    ]
    # makemigrations continues the numbering after the replaced files and depends on the squash.
    project.write_models({"app": models(*VERSIONS[2])})
    made = project.makemigrations().migrations[0]
    assert made.name == "0004_alter_person_age"
    assert f'("app", "{result.name}")' in made.source
    project.migrate()
    assert project.schema() == project.reference_schema()


def test_squash_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    project = Project(tmp_path, Backend("sqlite", tmp_path))
    write_history(project)
    with pytest.raises(GraphError, match="is one migration"):
        squash(project, "0003", "0003")
    with pytest.raises(GraphError, match="not an ancestor"):
        squash(project, "0005", "0002")
    squash(project, "0002", "0004")
    with pytest.raises(GraphError, match="is itself a squash"):
        squash(project, "0001", "0006")
    with pytest.raises(GraphError, match="already exists"):
        squash(project, "0005", "0006", name="pet")


def test_replacement_rule_without_files() -> None:
    deps = {
        ("a", "1"): [],
        ("a", "2"): [("a", "1")],
        ("a", "3"): [("a", "2")],
        ("a", "s"): [("a", "1")],
        ("b", "1"): [("a", "3")],
    }
    replaces = {("a", "s"): [("a", "2"), ("a", "3")]}
    fresh, done = apply_replacements(deps, replaces, [])
    assert set(fresh) == {("a", "1"), ("a", "s"), ("b", "1")}
    assert fresh[("b", "1")] == [("a", "s")]
    assert done == set()
    _, done = apply_replacements(deps, replaces, [("a", "1"), ("a", "2"), ("a", "3")])
    assert ("a", "s") in done
    half, done = apply_replacements(deps, replaces, [("a", "1"), ("a", "2")])
    assert ("a", "s") not in half and ("a", "3") in half
    assert fresh[("b", "1")] == [("a", "s")] and half[("b", "1")] == [("a", "3")]


def start_up(project: Project) -> MigrationReport:
    """Run ``ensure_migrated()`` the way an application does at start-up, on the project's DB."""

    async def main() -> MigrationReport:
        with drift_check_suppressed():
            await Tortoise.init(config=project.tortoise_config())
        try:
            return await march.ensure_migrated(project.config)
        finally:
            await Tortoise.close_connections()
            await Tortoise._reset_apps()

    return asyncio.run(main())


def checksums(project: Project) -> dict[str, str]:
    rows = project.backend.execute(
        project.url, "SELECT name, checksum FROM tortoise_march_migrations"
    )
    return {str(name): str(value) for name, value in rows}


def test_start_up_check_sees_the_squash_like_migrate_does(project: Project) -> None:
    write_history(project)
    # Two databases from before the squash: one applied every old migration, one half of them.
    project.migrate()
    old_sums = checksums(project)
    complete = project.url
    project.url = half = project.backend.new_url()
    project.migrate("app", "0003")
    squash(project, "0002", "0006")
    project.url = complete
    assert start_up(project) == MigrationReport()
    assert checksums(project) == old_sums
    # Start-up finishes the half-way database with the old migrations, once.
    project.url = half
    report = start_up(project)
    assert report.applied == [f"app.{name}" for name in OLD[3:]]
    assert recorded(project) == OLD
    assert seeds(project) == [("seed", 30)]
    assert project.schema() == project.reference_schema()
    assert start_up(project) == MigrationReport()
    # A fresh database: start-up applies the squash, which records the migrations it replaces
    # with its own checksum; the next start-up accepts those rows and finds nothing to do.
    project.url = project.backend.new_url()
    assert start_up(project).applied == ["app.0001_initial", f"app.{SQUASH}"]
    sums = checksums(project)
    assert sorted(sums) == sorted([*OLD, SQUASH])
    assert {sums[name] for name in OLD[1:]} == {sums[SQUASH]} != {sums["0001_initial"]}
    assert start_up(project) == MigrationReport()
    assert project.schema() == project.reference_schema()
    assert seeds(project) == [("seed", 30)]
