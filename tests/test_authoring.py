"""Authoring: rename questions, explicit rename flags, one-off defaults (issue: authoring)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.cliproject import make_project
from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext import commands, migrations
from tortoise_march_ext.autodetect.questioner import QuestionAborted

PERSON = model("Person", f"{ID}\nphone = fields.CharField(max_length=20)")
PERSON_RENAMED = model("Person", f"{ID}\nmobile = fields.CharField(max_length=20)")
PET = model("Pet", f'{ID}\nowner = fields.ForeignKeyField("app.Person", related_name="pets")')


def answers(text: str) -> commands.Questioner:
    return commands.make_questioner(input=io.StringIO(text), output=io.StringIO())


@pytest.fixture
def project(backend: Backend, tmp_path: Path) -> Project:
    proj = Project(tmp_path, backend)
    proj.write_models({"app": models(PERSON, PET)})
    proj.makemigrations()
    proj.migrate()
    backend.execute(proj.url, "INSERT INTO person (id, phone) VALUES (1, '555')")
    backend.execute(proj.url, "INSERT INTO pet (id, owner_id) VALUES (7, 1)")
    return proj


def only_operations(result: commands.MakeMigrationsResult) -> list[migrations.Operation]:
    assert len(result.migrations) == 1
    return result.migrations[0].operations


def test_confirmed_field_rename_keeps_the_rows(project: Project) -> None:
    project.write_models({"app": models(PERSON_RENAMED, PET)})
    ops = only_operations(project.makemigrations(questioner=answers("y\n")))
    assert ops == [migrations.RenameField(model="Person", old_name="phone", new_name="mobile")]
    project.migrate()
    assert project.backend.execute(project.url, "SELECT id, mobile FROM person") == [(1, "555")]
    assert project.makemigrations().changed is False


def test_refused_rename_is_remove_and_add(project: Project) -> None:
    project.write_models({"app": models(PERSON_RENAMED, PET)})
    ops = only_operations(project.makemigrations(questioner=answers("n\n1\n'none'\n")))
    assert [type(op).__name__ for op in ops] == ["RemoveField", "AddField"]
    assert ops[1].fill == "none"  # type: ignore[attr-defined]
    project.migrate()
    assert project.backend.execute(project.url, "SELECT id, mobile FROM person") == [(1, "none")]


def test_confirmed_model_rename_keeps_rows_and_foreign_keys(project: Project) -> None:
    contact = model("Contact", f"{ID}\nphone = fields.CharField(max_length=20)")
    pet = PET.replace("app.Person", "app.Contact")
    project.write_models({"app": models(contact, pet)})
    ops = only_operations(project.makemigrations(questioner=answers("y\n")))
    assert ops == [
        migrations.RenameModel(old_name="Person", new_name="Contact"),
        migrations.AlterModelTable(name="Contact", table="contact"),
    ]
    project.migrate()
    assert project.backend.execute(project.url, "SELECT id, phone FROM contact") == [(1, "555")]
    joined = "SELECT pet.id, contact.phone FROM pet JOIN contact ON contact.id = pet.owner_id"
    assert project.backend.execute(project.url, joined) == [(7, "555")]
    project.migrate("app", "0001")
    assert project.backend.execute(project.url, "SELECT id, phone FROM person") == [(1, "555")]


def test_one_off_default_fills_existing_rows_only(project: Project) -> None:
    grown = model(
        "Person", f"{ID}\nphone = fields.CharField(max_length=20)\nage = fields.IntField()"
    )
    project.write_models({"app": models(grown, PET)})
    output = io.StringIO()
    questioner = commands.make_questioner(
        input=io.StringIO("3\n1\nnot python\n42\n"), output=output
    )
    ops = only_operations(project.makemigrations(questioner=questioner))
    assert "app.Person.age is NOT NULL without a default" in output.getvalue()
    assert "is not a Python literal" in output.getvalue()
    assert ops == [
        migrations.AddField(model="Person", name="age", field=ops[0].field, fill=42)  # type: ignore[attr-defined]
    ]
    project.migrate()
    assert project.backend.execute(project.url, "SELECT id, age FROM person") == [(1, 42)]
    assert project.schema() == project.reference_schema()


def test_noinput_fails_on_an_undecided_rename_and_flags_decide(project: Project) -> None:
    project.write_models({"app": models(PERSON_RENAMED, PET)})
    with pytest.raises(QuestionAborted, match="--rename-field"):
        project.makemigrations(questioner=commands.make_questioner(noinput=True))
    flagged = commands.make_questioner(noinput=True, rename_fields=["app.Person.phone=mobile"])
    ops = only_operations(project.makemigrations(questioner=flagged, dry_run=True))
    assert [type(op).__name__ for op in ops] == ["RenameField"]
    no_renames = commands.make_questioner(noinput=True, no_renames=True)
    with pytest.raises(QuestionAborted, match="existing rows need a value"):
        project.makemigrations(questioner=no_renames)


def test_named_index_rename_is_asked(project: Project) -> None:
    indexed = model(
        "Person",
        f"{ID}\nphone = fields.CharField(max_length=20)",
        'indexes = (Index(fields=["phone"], name="person_phone_idx"),)',
    )
    project.write_models({"app": models(indexed, PET)})
    project.makemigrations()
    project.migrate()
    project.write_models({"app": models(indexed.replace("person_phone_idx", "phone_idx"), PET)})
    ops = only_operations(project.makemigrations(questioner=answers("y\n")))
    assert ops == [
        migrations.RenameIndex(model="Person", old_name="person_phone_idx", new_name="phone_idx")
    ]
    project.migrate()
    assert project.schema() == project.reference_schema()


def test_cli_reads_answers_from_a_pipe_and_stops_at_end_of_input(tmp_path: Path) -> None:
    cli = make_project(tmp_path)
    cli.ok("makemigrations")
    cli.replace_in(cli.models_py, "label = fields.CharField", "title = fields.CharField")
    before = cli.files()
    ended = cli.answer("", "makemigrations")
    assert ended.returncode == 2, ended.stderr
    assert "contacts.Tag.label -> title" in ended.stderr and "--rename-field" in ended.stderr
    assert cli.files() == before
    piped = cli.answer("y\n", "makemigrations")
    assert piped.returncode == 0, piped.stderr
    assert "Did you rename contacts.Tag.label to title (CharField)? [y/N]" in piped.stdout
    assert "Rename field label on Tag to title" in piped.stdout


AUTHOR = model("Author", f"{ID}\nname = fields.CharField(max_length=50)\nborn = fields.IntField()")
WRITER = model(
    "Writer", f"{ID}\nfull_name = fields.CharField(max_length=50)\nborn = fields.IntField()"
)
RENAMED_WITH_FIELD = [
    migrations.RenameModel(old_name="Author", new_name="Writer"),
    migrations.RenameField(model="Writer", old_name="name", new_name="full_name"),
    migrations.AlterModelTable(name="Writer", table="writer"),
]


@pytest.fixture
def authors(backend: Backend, tmp_path: Path) -> Project:
    proj = Project(tmp_path, backend)
    proj.write_models({"app": models(AUTHOR)})
    proj.makemigrations()
    proj.migrate()
    backend.execute(proj.url, "INSERT INTO author (id, name, born) VALUES (1, 'Ann', 1900)")
    proj.write_models({"app": models(WRITER)})
    return proj


def test_model_renamed_with_one_of_its_fields_keeps_the_rows(authors: Project) -> None:
    output = io.StringIO()
    questioner = commands.make_questioner(input=io.StringIO("y\ny\n"), output=output)
    ops = only_operations(authors.makemigrations(questioner=questioner))
    assert "Did you rename app.Author to Writer? [y/N] " in output.getvalue()
    assert "Did you rename app.Writer.name to full_name (CharField)? [y/N] " in output.getvalue()
    assert ops == RENAMED_WITH_FIELD
    authors.migrate()
    rows = authors.backend.execute(authors.url, "SELECT id, full_name, born FROM writer")
    assert rows == [(1, "Ann", 1900)]
    assert authors.schema() == authors.reference_schema()
    assert authors.makemigrations().changed is False
    authors.migrate("app", "0001")
    rows = authors.backend.execute(authors.url, "SELECT id, name, born FROM author")
    assert rows == [(1, "Ann", 1900)]


def test_model_and_field_rename_under_noinput_is_decided_by_flags(authors: Project) -> None:
    with pytest.raises(QuestionAborted, match="--rename-model app.Author=Writer"):
        authors.makemigrations(questioner=commands.make_questioner(noinput=True))
    model_only = commands.make_questioner(noinput=True, rename_models=["app.Author=Writer"])
    with pytest.raises(QuestionAborted, match="--rename-field app.Writer.name=full_name"):
        authors.makemigrations(questioner=model_only)
    both = commands.make_questioner(
        noinput=True,
        rename_models=["app.Author=Writer"],
        rename_fields=["app.Writer.name=full_name"],
    )
    assert only_operations(authors.makemigrations(questioner=both)) == RENAMED_WITH_FIELD
    authors.migrate()
    rows = authors.backend.execute(authors.url, "SELECT id, full_name, born FROM writer")
    assert rows == [(1, "Ann", 1900)]


def test_a_model_whose_kept_fields_changed_is_no_rename_candidate(authors: Project) -> None:
    changed = WRITER.replace("born = fields.IntField()", "born = fields.IntField(null=True)")
    authors.write_models({"app": models(changed)})
    ops = only_operations(authors.makemigrations(questioner=commands.make_questioner(noinput=True)))
    assert [type(op).__name__ for op in ops] == ["CreateModel", "DeleteModel"]


@pytest.mark.parametrize(
    ("before", "after", "answers_"),
    [
        ("", "null=True", "y\n"),
        ("null=True", "", "y\n2\n"),
    ],
    ids=["becomes-nullable", "becomes-not-null"],
)
def test_rename_keeping_the_column_while_null_changes_keeps_the_rows(
    backend: Backend, tmp_path: Path, before: str, after: str, answers_: str
) -> None:
    def person(name: str, options: str) -> str:
        source = ', source_field="phone"' if name != "phone" else ""
        extra = f", {options}" if options else ""
        return model("Person", f"{ID}\n{name} = fields.CharField(max_length=20{extra}{source})")

    proj = Project(tmp_path, backend)
    proj.write_models({"app": models(person("phone", before))})
    proj.makemigrations()
    proj.migrate()
    backend.execute(proj.url, "INSERT INTO person (id, phone) VALUES (1, '555')")
    proj.write_models({"app": models(person("mobile", after))})
    output = io.StringIO()
    questioner = commands.make_questioner(input=io.StringIO(answers_), output=output)
    ops = only_operations(proj.makemigrations(questioner=questioner))
    assert "Did you rename app.Person.phone to mobile (CharField)? [y/N] " in output.getvalue()
    assert [type(op).__name__ for op in ops][:1] == ["RenameField"]
    assert not any(isinstance(op, (migrations.RemoveField, migrations.AddField)) for op in ops)
    proj.migrate()
    assert backend.execute(proj.url, "SELECT id, phone FROM person") == [(1, "555")]
    assert proj.schema() == proj.reference_schema()
    assert proj.makemigrations().changed is False
    proj.migrate("app", "0001")
    assert backend.execute(proj.url, "SELECT id, phone FROM person") == [(1, "555")]
