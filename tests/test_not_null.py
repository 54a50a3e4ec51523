"""A nullable field made NOT NULL: Django's three choices, --noinput, and the runtime NULL check.

Driven through the real CLI (answers on stdin) on a copy of the example project; the rows are
checked in the database itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cliproject import CliProject, assert_error, assert_unchanged, make_project, show
from tests.harness import Backend
from tortoise_march_ext import migrations
from tortoise_march_ext.backends.postgres import PostgresEditor
from tortoise_march_ext.schema import fields
from tortoise_march_ext.schema.state import ProjectState

LABEL = "label = fields.CharField(max_length=50)\n    "
NULLABLE = LABEL + "nickname = fields.CharField(max_length=30, null=True)"
STRICT = LABEL + "nickname = fields.CharField(max_length=30)"
CHOICES = (
    " 1) Provide a one-off value now\n"
    " 2) Ignore for now: existing rows already have values (or a data migration fills them)\n"
    " 3) Quit and change the model\n"
)


def nullable_tag(tmp_path: Path, backend: Backend, *rows: str) -> CliProject:
    """Return a migrated project whose Tag has a nullable nickname, with ``rows`` inserted."""
    cli = make_project(tmp_path, backend.new_url())
    cli.replace_in(cli.models_py, "label = fields.CharField(max_length=50)", NULLABLE)
    cli.ok("makemigrations")
    cli.ok("migrate")
    for row in rows:
        backend.execute(cli.database_url, f"INSERT INTO tag (id, label, nickname) VALUES {row}")
    cli.replace_in(cli.models_py, NULLABLE, STRICT)
    return cli


@pytest.fixture
def sqlite(tmp_path: Path) -> Backend:
    return Backend("sqlite", tmp_path)


def test_ignore_for_now_writes_a_plain_alter_field(tmp_path: Path, sqlite: Backend) -> None:
    cli = nullable_tag(tmp_path, sqlite, "(1, 'a', 'x')")
    made = cli.answer("2\n", "makemigrations")
    assert made.returncode == 0, show(made)
    assert "contacts.Tag.nickname becomes NOT NULL" in made.stdout
    assert CHOICES in made.stdout, show(made)
    source = cli.files()["contacts/0002_alter_tag_nickname.py"]
    assert "migrations.AlterField(" in source and "fill=" not in source
    cli.ok("migrate")
    assert sqlite.execute(cli.database_url, "SELECT id, nickname FROM tag") == [(1, "x")]
    assert cli.ok("makemigrations", "--check").returncode == 0


def test_one_off_value_and_quit(tmp_path: Path, sqlite: Backend) -> None:
    cli = nullable_tag(tmp_path, sqlite, "(1, 'a', 'x')", "(2, 'b', NULL)")
    before = cli.files()
    quit_ = cli.answer("3\n", "makemigrations")
    assert_error(quit_, 2, "contacts.Tag.nickname")
    assert cli.files() == before
    made = cli.answer("4\n1\nnone\n'none'\n", "makemigrations")
    assert made.returncode == 0, show(made)
    assert "Please select 1, 2 or 3." in made.stdout
    assert "none is not a Python literal" in made.stdout, show(made)
    assert 'fill="none"' in cli.files()["contacts/0002_alter_tag_nickname.py"]
    cli.ok("migrate")
    rows = sqlite.execute(cli.database_url, "SELECT id, nickname FROM tag ORDER BY id")
    assert rows == [(1, "x"), (2, "none")]


def test_noinput_goes_on_with_one_warning(tmp_path: Path, sqlite: Backend) -> None:
    cli = nullable_tag(tmp_path, sqlite, "(1, 'a', 'x')")
    made = cli.run("makemigrations", "--noinput")
    assert made.returncode == 0, show(made)
    warnings = [line for line in made.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: "), show(made)
    assert "contacts.Tag.nickname" in warnings[0] and "NULL" in warnings[0]
    assert "fill=" not in cli.files()["contacts/0002_alter_tag_nickname.py"]


def test_new_not_null_field_without_default_still_fails_with_noinput(
    tmp_path: Path, sqlite: Backend
) -> None:
    cli = make_project(tmp_path, sqlite.new_url())
    cli.ok("makemigrations")
    cli.add_contact_field("age = fields.IntField()")
    before = cli.files()
    assert_error(cli.run("makemigrations", "--noinput"), 2, "contacts.Contact.age")
    assert cli.files() == before


def test_end_of_input_at_a_value_question_says_how_to_give_one(
    tmp_path: Path, sqlite: Backend
) -> None:
    cli = nullable_tag(tmp_path, sqlite)
    ended = cli.answer("1\n", "makemigrations")
    assert_error(ended, 2, "contacts.Tag.nickname", "stdin", "--noinput")
    assert "--rename-field" not in ended.stderr, show(ended)
    cli.replace_in(cli.models_py, STRICT, NULLABLE)
    cli.add_contact_field("age = fields.IntField()")
    ended = cli.answer("", "makemigrations")
    assert_error(ended, 2, "contacts.Contact.age", "stdin", "default")
    assert "--rename-field" not in ended.stderr, show(ended)


def test_rows_still_null_fail_the_migration_and_change_nothing(
    tmp_path: Path, backend: Backend
) -> None:
    cli = nullable_tag(tmp_path, backend, "(1, 'a', 'x')", "(2, 'b', NULL)", "(3, 'c', NULL)")
    assert cli.answer("2\n", "makemigrations").returncode == 0
    before = cli.snapshot()
    failed = cli.run("migrate")
    assert_error(failed, 3, '"tag"', '"nickname"', "2 rows")
    assert_unchanged(before, cli.snapshot())
    backend.execute(cli.database_url, "INSERT INTO tag (id, label, nickname) VALUES (4, 'd', NULL)")
    rows = backend.execute(cli.database_url, "SELECT id, nickname FROM tag ORDER BY id")
    assert rows == [(1, "x"), (2, None), (3, None), (4, None)]
    backend.execute(cli.database_url, "UPDATE tag SET nickname = 'filled' WHERE nickname IS NULL")
    cli.ok("migrate")
    assert cli.recorded()[-1] == "0002_alter_tag_nickname"


def _alter_statements(*before: migrations.Operation) -> list[object]:
    state = ProjectState()
    nullable = fields.CharField(max_length=30, null=True)
    create = migrations.CreateModel(
        name="Tag",
        table="tag",
        fields=[("id", fields.IntField(primary_key=True)), ("nick", nullable)],
    )
    for operation in (create, *before):
        operation.state_forwards("app", state)
    alter = migrations.AlterField("Tag", "nick", fields.CharField(max_length=30))
    after = state.clone()
    alter.state_forwards("app", after)
    return alter.database_forwards("app", PostgresEditor(), state, after)


def test_the_null_check_comes_first_unless_a_check_constraint_proves_it() -> None:
    plain = _alter_statements()
    assert str(plain[0]) == 'SELECT COUNT(*) FROM "tag" WHERE "nick" IS NULL;'
    assert str(plain[-1]) == 'ALTER TABLE "tag" ALTER COLUMN "nick" SET NOT NULL;'
    proof = fields.CheckConstraint(check='"nick" IS NOT NULL', name="tag_nick_nn")
    proven = _alter_statements(migrations.AddConstraint("Tag", proof))
    assert [str(s) for s in proven] == ['ALTER TABLE "tag" ALTER COLUMN "nick" SET NOT NULL;']
