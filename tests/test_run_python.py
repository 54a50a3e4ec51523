"""RunPython: historical models read and write rows across a rename; failures keep nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext.exceptions import GraphError, MigrationFailed

V1 = models(model("Person", f"{ID}\nphone = fields.CharField(max_length=20)"))
V2 = models(model("Person", f"{ID}\nmobile = fields.CharField(max_length=20)"))

MIGRATION = '''"""Rename phone to mobile and prefix every number."""

from tortoise_march_ext import migrations


async def forwards(apps):
    person = apps.get_model("app.Person")
    assert set(person._meta.fields_map) == {"id", "mobile"}
    for row in await person.all():
        row.mobile = "+" + row.mobile
        await row.save(update_fields=["mobile"])
    await person.create(mobile="+000")
    {extra}


async def backwards(apps, connection):
    person = apps.get_model("app.Person")
    await person.filter(mobile="+000").delete()
    for row in await person.filter(mobile__startswith="+"):
        row.mobile = row.mobile[1:]
        await row.save()


class Migration(migrations.Migration):
    dependencies = (("app", "0001_initial"),)

    operations = (
        migrations.RenameField(model="Person", old_name="phone", new_name="mobile"),
        migrations.RunPython(forwards{backwards}),
    )
'''


@pytest.fixture
def project(backend: Backend, tmp_path: Path) -> Project:
    proj = Project(tmp_path, backend)
    proj.write_models({"app": V1})
    proj.makemigrations()
    proj.migrate()
    backend.execute(proj.url, "INSERT INTO person (phone) VALUES ('555')")
    proj.write_models({"app": V2})
    return proj


def write(project: Project, extra: str = "", backwards: bool = True) -> None:
    text = MIGRATION.replace("{extra}", extra or "return None")
    text = text.replace("{backwards}", ", backwards" if backwards else "")
    (project.migrations / "app" / "0002_prefix.py").write_text(text, encoding="utf-8")


def rows(project: Project, column: str) -> list[tuple[object, ...]]:
    return project.backend.execute(project.url, f"SELECT {column} FROM person ORDER BY {column}")


def test_historical_models_work_across_a_rename_both_ways(project: Project) -> None:
    write(project)
    assert not project.makemigrations().changed
    project.migrate()
    assert rows(project, "mobile") == [("+000",), ("+555",)]
    project.migrate("app", "0001")
    assert rows(project, "phone") == [("555",)]
    project.migrate()
    assert rows(project, "mobile") == [("+000",), ("+555",)]


def test_failing_python_keeps_nothing_of_its_migration(project: Project) -> None:
    write(project, extra='raise ValueError("bad data")')
    with pytest.raises(MigrationFailed, match="bad data") as failed:
        project.migrate()
    if project.backend.name == "mysql":
        # MySQL has committed the rename (no transactional DDL); the Python code's writes are
        # rolled back and the migration is left marked as stopped half-way.
        assert "--resolve applied" in str(failed.value)
        assert rows(project, "mobile") == [("555",)]
    else:
        assert rows(project, "phone") == [("555",)]
    recorded = "SELECT name FROM tortoise_march_migrations"
    assert project.backend.execute(project.url, recorded) == [("0001_initial",)]


def test_python_without_backwards_cannot_be_unapplied(project: Project) -> None:
    write(project, backwards=False)
    project.migrate()
    with pytest.raises(GraphError, match="0002_prefix.*irreversible"):
        project.migrate("app", "0001")
    assert rows(project, "mobile") == [("+000",), ("+555",)]


NON_ATOMIC = '''"""Prefix numbers outside a transaction, then fail."""

from tortoise_march_ext import migrations


async def forwards(apps):
    person = apps.get_model("app.Person")
    await person.create(phone="+000")
    raise ValueError("late failure")


class Migration(migrations.Migration):
    dependencies = (("app", "0001_initial"),)

    operations = (migrations.RunPython(forwards, atomic=False),)
'''


def test_non_atomic_python_keeps_what_it_did_before_failing(project: Project) -> None:
    (project.migrations / "app" / "0002_loose.py").write_text(NON_ATOMIC, encoding="utf-8")
    with pytest.raises(MigrationFailed, match="late failure"):
        project.migrate()
    assert rows(project, "phone") == [("+000",), ("555",)]
    recorded = "SELECT name FROM tortoise_march_migrations"
    assert project.backend.execute(project.url, recorded) == [("0001_initial",)]
