"""makemigrations --merge: two leaves made on two branches become one history again."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext import commands, migrations
from tortoise_march_ext.exceptions import GraphError
from tortoise_march_ext.files.writer import render_migration
from tortoise_march_ext.schema import fields

BASE = f"{ID}\nname = fields.CharField(max_length=20)"


def branch(project: Project, name: str, *operations: migrations.Operation) -> None:
    source = render_migration(f"Branch {name}.", [("app", "0001_initial")], list(operations))
    (project.migrations / "app" / f"{name}.py").write_text(source, encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    proj = Project(tmp_path, Backend("sqlite", tmp_path))
    proj.write_models({"app": models(model("Person", BASE))})
    proj.makemigrations()
    return proj


def test_merge_writes_a_migration_depending_on_both_leaves(project: Project) -> None:
    branch(project, "0002_age", migrations.AddField("Person", "age", fields.IntField(null=True)))
    branch(project, "0002_city", migrations.AddField("Person", "city", fields.TextField(null=True)))
    project.write_models(
        {
            "app": models(
                model(
                    "Person",
                    f"{BASE}\ncity = fields.TextField(null=True)\nage = fields.IntField(null=True)",
                )
            )
        }
    )
    with pytest.raises(GraphError, match="0002_age, 0002_city.*--merge"):
        project.makemigrations()
    result = project.makemigrations(merge=True)
    assert [m.name for m in result.migrations] == ["0003_merge_0002_age_0002_city"]
    merged = result.migrations[0]
    assert merged.operations == []
    assert 'dependencies = (("app", "0002_age"), ("app", "0002_city"))' in merged.source
    project.migrate()
    assert not project.makemigrations().changed
    assert project.schema() == project.reference_schema()


def test_merge_of_branches_changing_the_same_field_needs_a_yes(project: Project) -> None:
    wide = fields.CharField(max_length=40)
    branch(project, "0002_wide", migrations.AlterField("Person", "name", wide))
    branch(
        project, "0002_null", migrations.AlterField("Person", "name", wide.with_changes(null=True))
    )
    with pytest.raises(GraphError, match="both change Person.name"):
        project.makemigrations(merge=True, questioner=commands.make_questioner(noinput=True))
    assert sorted(p.name for p in (project.migrations / "app").glob("*.py")) == [
        "0001_initial.py",
        "0002_null.py",
        "0002_wide.py",
    ]
    yes = commands.make_questioner(input=io.StringIO("y\n"), output=io.StringIO())
    assert [m.name for m in project.makemigrations(merge=True, questioner=yes).migrations] == [
        "0003_merge_0002_null_0002_wide"
    ]


def test_merge_of_branches_renaming_the_same_model_needs_a_yes(project: Project) -> None:
    branch(project, "0002_human", migrations.RenameModel("Person", "Human"))
    branch(project, "0002_people", migrations.RenameModel("Person", "People"))
    with pytest.raises(GraphError, match="both change Person"):
        project.makemigrations(merge=True, questioner=commands.make_questioner(noinput=True))
    output = io.StringIO()
    yes = commands.make_questioner(input=io.StringIO("y\n"), output=output)
    made = project.makemigrations(merge=True, questioner=yes, dry_run=True).migrations
    assert [m.name for m in made] == ["0003_merge_0002_human_0002_people"]
    assert "both change Person. Merge anyway? [y/N]" in output.getvalue()


def test_merge_of_a_rename_and_a_field_change_of_that_model_needs_a_yes(project: Project) -> None:
    branch(project, "0002_human", migrations.RenameModel("Person", "Human"))
    branch(project, "0002_wide", migrations.AlterField("Person", "name", fields.TextField()))
    with pytest.raises(GraphError, match="both change Person"):
        project.makemigrations(merge=True, questioner=commands.make_questioner(noinput=True))


def test_merge_of_an_index_and_another_field_merges_without_a_question(project: Project) -> None:
    index = fields.Index(fields=("name",))
    branch(project, "0002_index", migrations.AddIndex("Person", index))
    branch(project, "0002_age", migrations.AddField("Person", "age", fields.IntField(null=True)))
    no = commands.make_questioner(noinput=True)
    made = project.makemigrations(merge=True, questioner=no, dry_run=True).migrations
    assert [m.name for m in made] == ["0003_merge_0002_age_0002_index"]


def test_merge_of_branches_renaming_the_same_field_needs_a_yes(project: Project) -> None:
    branch(project, "0002_title", migrations.RenameField("Person", "name", "title"))
    branch(project, "0002_label", migrations.RenameField("Person", "name", "label"))
    with pytest.raises(GraphError, match="both change Person.name"):
        project.makemigrations(merge=True, questioner=commands.make_questioner(noinput=True))
