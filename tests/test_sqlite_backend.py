"""The SQLite editor on real SQLite: statement splitting, and what the table rebuild keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext.backends.sqlite import SqliteEditor
from tortoise_march_ext.exceptions import MigrationFailed

TRIGGER = (
    "CREATE TRIGGER person_log AFTER INSERT ON person BEGIN "
    "INSERT INTO log (note) VALUES ('a;b'); UPDATE log SET note = note || ';'; END;"
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT 1; SELECT 2;", ["SELECT 1;", "SELECT 2;"]),
        ("SELECT 1;SELECT 2", ["SELECT 1;", "SELECT 2"]),
        ("SELECT 'a;b'; SELECT \"c;d\";", ["SELECT 'a;b';", 'SELECT "c;d";']),
        ("SELECT 1; -- one; two\nSELECT 2; /* x; y */", ["SELECT 1;", "-- one; two\nSELECT 2;"]),
        ("SELECT 1;\n\n;  -- only a comment;\n", ["SELECT 1;"]),
        (TRIGGER + " SELECT 3;", [TRIGGER, "SELECT 3;"]),
    ],
)
def test_split_statements_ends_statements_where_sqlite_does(sql: str, expected: list[str]) -> None:
    assert SqliteEditor().split_statements(sql) == expected


RUN_SQL = '''"""Hand-written SQL on one line."""

from tortoise_march_ext import migrations


class Migration(migrations.Migration):
    dependencies = (("app", "0001_initial"),)

    operations = (
        migrations.RunSQL(
            sql=(
                "CREATE TABLE log (note TEXT); INSERT INTO person (name) VALUES ('x;y');"
                " {trigger} INSERT INTO person (name) VALUES ('z');"
            ),
            reverse_sql="DROP TRIGGER person_log; DROP TABLE log; DELETE FROM person;",
        ),
    )
'''


def test_run_sql_with_several_statements_per_line(tmp_path: Path) -> None:
    backend = Backend("sqlite", tmp_path)
    project = Project(tmp_path, backend)
    project.write_models({"app": models(model("Person", f"{ID}\nname = fields.TextField()"))})
    project.makemigrations()
    text = RUN_SQL.replace("{trigger}", TRIGGER.replace("'", "\\'"))
    (project.migrations / "app" / "0002_sql.py").write_text(text, encoding="utf-8")
    project.migrate()
    names = backend.execute(project.url, "SELECT name FROM person ORDER BY id")
    assert names == [("x;y",), ("z",)]
    assert backend.execute(project.url, "SELECT note FROM log") == [("a;b;",)]
    project.migrate("app", "0001")
    assert backend.execute(project.url, "SELECT count(*) FROM person") == [(0,)]
    tables = "SELECT name FROM sqlite_master WHERE name IN ('log', 'person_log')"
    assert backend.execute(project.url, tables) == []


LOG = "CREATE TABLE log (note TEXT)"
ON_INSERT = "CREATE TRIGGER person_log AFTER INSERT ON person BEGIN {body}; END"
V1 = models(
    model("Person", f"{ID}\nname = fields.CharField(max_length=20)\nnick = fields.TextField()")
)
WIDER = models(
    model("Person", f"{ID}\nname = fields.CharField(max_length=80)\nnick = fields.TextField()")
)
NO_NICK = models(model("Person", f"{ID}\nname = fields.CharField(max_length=20)"))


@pytest.fixture
def person(tmp_path: Path) -> Project:
    """Return a migrated project with a ``person`` table and a ``log`` table outside it."""
    project = Project(tmp_path, Backend("sqlite", tmp_path))
    project.write_models({"app": V1})
    project.makemigrations()
    project.migrate()
    project.backend.execute(project.url, LOG)
    return project


def _rows(project: Project, sql: str) -> list[tuple[object, ...]]:
    return project.backend.execute(project.url, sql)


def _rebuild_to(project: Project, source: str) -> None:
    project.write_models({"app": source})
    assert project.makemigrations().changed


def test_rebuild_keeps_the_triggers_of_the_table(person: Project) -> None:
    body = "INSERT INTO log (note) VALUES ('new ' || NEW.name)"
    _rows(person, ON_INSERT.format(body=body))
    update = (
        "CREATE TRIGGER person_rename AFTER UPDATE OF name ON person "
        "WHEN NEW.name <> OLD.name BEGIN INSERT INTO log (note) VALUES ('renamed'); END"
    )
    _rows(person, update)
    _rebuild_to(person, WIDER)
    person.migrate()
    assert (
        "VARCHAR(80)" in _rows(person, "SELECT sql FROM sqlite_master WHERE name = 'person'")[0][0]
    )
    triggers = "SELECT name FROM sqlite_master WHERE type = 'trigger' ORDER BY name"
    assert _rows(person, triggers) == [("person_log",), ("person_rename",)]
    _rows(person, "INSERT INTO person (name, nick) VALUES ('ann', 'a')")
    _rows(person, "UPDATE person SET name = 'bea'")
    assert _rows(person, "SELECT note FROM log") == [("new ann",), ("renamed",)]
    person.migrate("app", "0001")
    assert _rows(person, triggers) == [("person_log",), ("person_rename",)]


def test_rebuild_keeps_the_autoincrement_counter(person: Project) -> None:
    for name in ("a", "b", "c"):
        _rows(person, f"INSERT INTO person (name, nick) VALUES ('{name}', '')")
    _rows(person, "DELETE FROM person WHERE id > 1")
    _rebuild_to(person, WIDER)
    person.migrate()
    _rows(person, "INSERT INTO person (name, nick) VALUES ('d', '')")
    assert _rows(person, "SELECT id, name FROM person ORDER BY id") == [(1, "a"), (4, "d")]
    _rows(person, "DELETE FROM person")
    person.migrate("app", "0001")
    _rows(person, "INSERT INTO person (name, nick) VALUES ('e', '')")
    assert _rows(person, "SELECT id FROM person") == [(5,)]


@pytest.mark.parametrize(
    "trigger",
    [
        ON_INSERT.format(body="INSERT INTO log (note) VALUES (NEW.nick)"),
        'CREATE TRIGGER person_log AFTER UPDATE OF "nick" ON person BEGIN SELECT 1; END',
        "CREATE TRIGGER person_log AFTER DELETE ON person WHEN OLD.nick = '' BEGIN SELECT 1; END",
    ],
)
def test_rebuild_refuses_a_trigger_that_needs_a_removed_column(
    person: Project, trigger: str
) -> None:
    _rows(person, trigger)
    _rows(person, "INSERT INTO log (note) VALUES ('kept')")
    _rows(person, "INSERT INTO person (name, nick) VALUES ('ann', 'a')")
    _rebuild_to(person, NO_NICK)
    with pytest.raises(MigrationFailed) as failed:
        person.migrate()
    message = str(failed.value)
    assert "\n" not in message, message
    assert "trigger person_log on person" in message
    assert "nick" in message
    assert 'DROP TRIGGER "person_log"' in message
    columns = [r[1] for r in _rows(person, "PRAGMA table_info(person)")]
    assert columns == ["id", "name", "nick"]
    assert _rows(person, "SELECT sql FROM sqlite_master WHERE name = 'person_log'") == [(trigger,)]
    assert _rows(person, "SELECT name FROM person") == [("ann",)]
    recorded = "SELECT name FROM tortoise_march_migrations"
    assert _rows(person, recorded) == [("0001_initial",)]


def test_rebuild_keeps_views_that_read_the_table(person: Project) -> None:
    _rows(person, "CREATE VIEW names AS SELECT name FROM person")
    _rows(person, "CREATE VIEW broken AS SELECT missing FROM log")
    _rows(person, "INSERT INTO person (name, nick) VALUES ('ann', 'a')")
    _rebuild_to(person, WIDER)
    person.migrate()
    assert _rows(person, "SELECT name FROM names") == [("ann",)]
    person.migrate("app", "0001")
    assert _rows(person, "SELECT name FROM names") == [("ann",)]


def test_rebuild_refuses_a_view_that_needs_a_removed_column(person: Project) -> None:
    _rows(person, "CREATE VIEW nicks AS SELECT nick FROM person")
    _rebuild_to(person, NO_NICK)
    with pytest.raises(MigrationFailed) as failed:
        person.migrate()
    message = str(failed.value)
    assert "view nicks does not fit the rebuilt table person (no such column: nick)" in message
    assert 'DROP VIEW "nicks"' in message
    assert [r[1] for r in _rows(person, "PRAGMA table_info(person)")] == ["id", "name", "nick"]
    assert _rows(person, "SELECT count(*) FROM nicks") == [(0,)]
