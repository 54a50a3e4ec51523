"""The SQLite editor on real SQLite: statement splitting, and what the table rebuild keeps."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext.backends.sqlite import SqliteEditor

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
