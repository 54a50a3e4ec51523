"""makemigrations --update: new changes folded into the latest migration, edited with libcst.

Hand-written parts of the module (functions, comments, a custom docstring) must come out byte
for byte as they went in (golden file), and migrating through the result must give the schema
generate_schemas builds.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext.exceptions import GraphError, HistoryError

GOLDEN = Path(__file__).parent / "golden"
NAME = "name = fields.CharField(max_length=50)"
HAND_EDITED = '''"""Add age to Person, and say hello (edited by hand)."""

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


async def hello(apps):
    # a hand-written step that must survive the update
    Person = apps.get_model("app.Person")
    await Person.filter(age=None).update(age=1)


class Migration(migrations.Migration):
    dependencies = (("app", "0001_initial"),)

    operations = (
        # the column first
        migrations.AddField(
            model="Person",
            name="age",
            field=fields.IntField(null=True),
        ),
        migrations.RunPython(hello),  # then the data
        # new operations go after this line
    )
'''


@pytest.fixture
def project(backend: Backend, tmp_path: Path) -> Project:
    proj = Project(tmp_path, backend)
    proj.write_models({"app": models(model("Person", f"{ID}\n{NAME}"))})
    proj.makemigrations()
    proj.write_models(
        {"app": models(model("Person", f"{ID}\n{NAME}\nage = fields.IntField(null=True)"))}
    )
    (proj.migrations / "app" / "0002_person_age.py").write_text(HAND_EDITED)
    return proj


def later_models() -> str:
    person = model(
        "Person",
        f"{ID}\n{NAME}\nage = fields.IntField(null=True)\n"
        "born = fields.DateField(default=datetime.date(2000, 1, 1))",
    )
    pet = model("Pet", f"{ID}\nowner = fields.ForeignKeyField('app.Person')")
    return "import datetime\n" + models(person, pet)


def test_update_keeps_hand_written_code_and_matches_the_golden_file(project: Project) -> None:
    project.write_models({"app": later_models()})
    result = project.makemigrations(update=True)
    assert [(m.name, m.updated) for m in result.migrations] == [("0002_person_age", True)]
    path = project.migrations / "app" / "0002_person_age.py"
    assert path.read_text() == (GOLDEN / "0002_person_age_updated.py").read_text()
    assert sorted(p.name for p in (project.migrations / "app").glob("*.py")) == [
        "0001_initial.py",
        "0002_person_age.py",
    ]
    assert project.ruff() == ""
    assert not project.makemigrations().changed
    project.migrate()
    assert project.schema() == project.reference_schema()


def test_update_never_folds_across_hand_written_code(project: Project) -> None:
    project.write_models(
        {"app": models(model("Person", f"{ID}\n{NAME}\nage = fields.BigIntField(null=True)"))}
    )
    result = project.makemigrations(update=True)
    # hello() sees an int column: the AlterField stays after it.
    assert [op.describe() for op in result.migrations[0].operations] == [
        "Add field age to Person",
        "Run Python code hello",
        "Alter field age on Person",
    ]
    text = (project.migrations / "app" / "0002_person_age.py").read_text()
    assert "# a hand-written step that must survive the update" in text
    assert "migrations.RunPython(hello),  # then the data" in text
    project.migrate()
    assert project.schema() == project.reference_schema()


def test_update_refuses_a_migration_the_database_applied(project: Project) -> None:
    project.migrate()
    project.write_models({"app": later_models()})
    path = project.migrations / "app" / "0002_person_age.py"
    with pytest.raises(HistoryError, match="0002_person_age: database connection 'default' has"):
        project.makemigrations(update=True)
    assert path.read_text() == HAND_EDITED
    project.url = project.backend.new_url()  # a database that never applied it
    assert project.makemigrations(update=True).migrations[0].updated


def test_update_regenerates_a_generated_docstring_and_says_when_nothing_changed(
    tmp_path: Path,
) -> None:
    project = Project(tmp_path, Backend("sqlite", tmp_path))
    project.write_models({"app": models(model("Person", f"{ID}\n{NAME}"))})
    project.makemigrations()
    assert project.makemigrations(update=True).message == "No changes detected"
    project.write_models({"app": later_models()})
    result = project.makemigrations(update=True)
    text = result.migrations[0].path.read_text()
    # The new fields fold into CreateModel(Person); the generated docstring follows.
    assert text.startswith('"""Create model Person, and more.\n\n- Create model Person\n')
    assert "CreateModel(" in text and "AddField(" not in text
    assert "import datetime\n\nfrom tortoise_march_ext import migrations\n" in text
    assert project.ruff() == ""
    with pytest.raises(GraphError, match="--update cannot be combined"):
        project.makemigrations(update=True, empty=True)
    with pytest.raises(GraphError, match="keeps its name"):
        project.makemigrations(update=True, name="renamed")
