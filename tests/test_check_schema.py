"""``check --schema`` through the real CLI: a database changed by hand is found, line by line."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.cliproject import CliProject, make_project, show
from tests.conftest import require_postgres
from tests.harness import Backend, Project
from tests.scenarios import ID, model, models


def migrated(tmp_path: Path, backend: Backend) -> CliProject:
    """Return the example project with its migrations written and applied."""
    project = make_project(tmp_path, backend.new_url())
    project.ok("makemigrations")
    project.ok("migrate")
    return project


def rebuild_sqlite_table(project: CliProject, table: str, old: str, new: str) -> None:
    """Recreate a SQLite table from its own CREATE text with ``old`` replaced by ``new``."""
    with sqlite3.connect(project.sqlite_path) as conn:
        (sql,) = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()
        assert old in sql
        temp = f"{table}_rebuilt"
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute(sql.replace(f'"{table}"', f'"{temp}"', 1).replace(old, new, 1))
        conn.execute(f'INSERT INTO "{temp}" SELECT * FROM "{table}"')
        conn.execute(f'DROP TABLE "{table}"')
        conn.execute(f'ALTER TABLE "{temp}" RENAME TO "{table}"')


def index_of(backend: Backend, url: str, table: str) -> str:
    """Return the name of the one index a migration made on ``table``'s name column."""
    schema = backend.introspect(url)
    (name,) = [i[0] for i in schema[table]["indexes"] if i[1] == ("name",)]
    return str(name)


def test_a_migrated_database_matches(tmp_path: Path, backend: Backend) -> None:
    project = migrated(tmp_path, backend)
    result = project.run("check", "--schema")
    assert result.returncode == 0, show(result)
    assert "matches the applied migrations (contacts)" in result.stdout, show(result)
    assert project.run("check", "--schema", "contacts").returncode == 0


def test_changes_by_hand_are_reported_one_line_each(tmp_path: Path, backend: Backend) -> None:
    project = migrated(tmp_path, backend)
    url = project.database_url
    index = index_of(backend, url, "contact")
    if backend.name == "postgres":
        backend.execute(url, "ALTER TABLE tag ALTER COLUMN label TYPE varchar(60)")
        backend.execute(url, f'DROP INDEX "{index}"')
        backend.execute(url, "ALTER TABLE company ADD CONSTRAINT named CHECK (length(name) > 0)")
    elif backend.name == "mysql":
        backend.execute(url, "ALTER TABLE tag MODIFY COLUMN label VARCHAR(60) NOT NULL")
        backend.execute(url, f"DROP INDEX `{index}` ON contact")
        backend.execute(url, "ALTER TABLE company ADD CONSTRAINT named CHECK (length(name) > 0)")
    else:
        rebuild_sqlite_table(project, "tag", "VARCHAR(50)", "VARCHAR(60)")
        backend.execute(url, f'DROP INDEX "{index}"')
        rebuild_sqlite_table(
            project,
            "company",
            "NOT NULL UNIQUE",
            "NOT NULL UNIQUE CONSTRAINT named CHECK (length(name) > 0)",
        )
    result = project.run("check", "--schema")
    assert result.returncode == 1, show(result)
    lines = result.stdout.splitlines()
    assert len(lines) == 3, show(result)
    changed = "contacts.Tag: column label is VARCHAR(60) in the database, VARCHAR(50) in the"
    assert f"{changed} migrations" in lines, show(result)
    assert f"contacts.Contact: index {index} USING btree (name) is missing in the database" in (
        lines
    ), show(result)
    (check,) = [line for line in lines if line.startswith("contacts.Company: check named (")]
    assert check.endswith(") is in the database only"), show(result)
    assert "length(name" in check and "> 0" in check, show(result)


def test_check_takes_an_app_only_with_schema(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    result = project.run("check", "contacts")
    assert result.returncode == 2, show(result)
    assert "check --schema contacts" in result.stderr, show(result)


BOOKING = """
from tortoise import fields
from tortoise.models import Model

import tortoise_march_ext as march


class Booking(Model):
    id = fields.IntField(primary_key=True)
    room = fields.IntField()
    start_at = fields.DatetimeField()
    end_at = fields.DatetimeField()

    class Meta(march.Meta):
        table = "booking"
        march_constraints = (
            march.ExclusionConstraint(
                expressions=(
                    (march.FieldRef("room"), "="),
                    (march.RawSQL("tstzrange(start_at, end_at, '[)')"), "&&"),
                ),
                name="no_double_booking",
            ),
        )
        march_extensions = (march.PostgresExtension("btree_gist"),)
"""


def test_exclusion_constraints_and_extensions_are_compared(tmp_path: Path) -> None:
    require_postgres()
    backend = Backend("postgres", tmp_path)
    try:
        project = Project(tmp_path, backend)
        project.write_models({"app": BOOKING})
        project.makemigrations()
        project.migrate()
        assert project.check_schema() == []
        backend.execute(project.url, "DROP EXTENSION btree_gist CASCADE")
        found = project.check_schema()
        assert found[0] == "app: extension btree_gist is missing in the database", found
        (line,) = found[1:]
        assert line.startswith("app.Booking: exclusion no_double_booking EXCLUDE USING gist"), line
        assert line.endswith(" is missing in the database"), line
    finally:
        backend.cleanup()


def test_what_postgresql_derives_is_not_a_difference(tmp_path: Path, pg_url: str) -> None:
    project = make_project(tmp_path, pg_url)
    project.ok("makemigrations")
    project.ok("migrate")
    backend = Backend("postgres", tmp_path)
    backend.execute(pg_url, "ALTER SEQUENCE tag_id_seq RENAME TO renamed_by_hand")
    backend.execute(pg_url, "ALTER TABLE company ALTER COLUMN id DROP DEFAULT")
    backend.execute(pg_url, "DROP SEQUENCE company_id_seq")
    backend.execute(
        pg_url, "ALTER TABLE company ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY"
    )
    result = project.run("check", "--schema")
    assert result.returncode == 0, show(result)
    backend.execute(pg_url, "ALTER TABLE contact ALTER COLUMN email SET DEFAULT 'x'")
    backend.execute(pg_url, "ALTER TABLE contact ALTER COLUMN created_at DROP NOT NULL")
    result = project.run("check", "--schema", "contacts")
    assert result.returncode == 1, show(result)
    assert result.stdout.splitlines() == [
        "contacts.Contact: column email has default 'x'::character varying in the database, "
        "no default in the migrations",
        "contacts.Contact: column created_at is NULL in the database, NOT NULL in the migrations",
    ], show(result)


def test_an_unknown_app_is_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.ok("makemigrations")
    project.ok("migrate")
    result = project.run("check", "--schema", "nosuchapp")
    assert result.returncode == 2, show(result)
    assert result.stderr.startswith("error: unknown app 'nosuchapp'"), show(result)
    assert len(result.stderr.splitlines()) == 1, show(result)


def test_a_table_and_a_column_missing_are_reported(tmp_path: Path, backend: Backend) -> None:
    project = migrated(tmp_path, backend)
    url = project.database_url
    backend.execute(url, "DROP TABLE contact_tag")
    backend.execute(url, "ALTER TABLE contact ADD COLUMN phone VARCHAR(20)")
    result = project.run("check", "--schema")
    assert result.returncode == 1, show(result)
    assert result.stdout.splitlines() == [
        "contacts.Contact: column phone is in the database only",
        "contacts.Contact: table contact_tag is missing in the database",
    ], show(result)


TAGGED = """
from tortoise import fields
from tortoise.models import Model

import tortoise_march_ext as march


class Label(Model):
    id = fields.IntField(primary_key=True)
    text = fields.CharField(max_length=50)

    class Meta(march.Meta):
        table = "label"
        march_extensions = (march.PostgresExtension("pg_trgm"),)
"""


def test_extensions_declared_on_sqlite_are_not_missing(tmp_path: Path) -> None:
    backend = Backend("sqlite", tmp_path)
    project = Project(tmp_path, backend)
    project.write_models({"app": TAGGED})
    project.makemigrations()
    project.migrate()
    assert project.check_schema() == []


def test_unique_constraints_and_foreign_keys_are_compared(tmp_path: Path, pg_url: str) -> None:
    project = make_project(tmp_path, pg_url)
    project.ok("makemigrations")
    project.ok("migrate")
    backend = Backend("postgres", tmp_path)
    (unique,) = [u[0] for u in backend.introspect(pg_url)["contact"]["uniques"]]
    backend.execute(pg_url, f'ALTER TABLE contact DROP CONSTRAINT "{unique}"')
    backend.execute(pg_url, "ALTER TABLE contact DROP CONSTRAINT contact_company_id_fkey")
    backend.execute(
        pg_url,
        "ALTER TABLE contact ADD FOREIGN KEY (company_id) REFERENCES company (id) "
        "ON DELETE SET NULL",
    )
    result = project.run("check", "--schema")
    assert result.returncode == 1, show(result)
    assert result.stdout.splitlines() == [
        "contacts.Contact: foreign key (company_id) -> company (id) ON DELETE CASCADE is missing "
        "in the database",
        "contacts.Contact: foreign key (company_id) -> company (id) ON DELETE SET NULL is in the "
        "database only",
        f"contacts.Contact: unique {unique} (name, email) is missing in the database",
    ], show(result)


def test_index_method_condition_and_include_are_compared(tmp_path: Path) -> None:
    require_postgres()
    backend = Backend("postgres", tmp_path)
    try:
        project = Project(tmp_path, backend)
        doc = model(
            "Doc",
            f"{ID}\ntitle = fields.CharField(max_length=100)\nscore = fields.IntField(null=True)",
            "indexes = ("
            "march.Index(fields=('title',), include=('score',), name='doc_cover'), "
            "march.Index(fields=('title',), index_type='hash', name='doc_hash'), "
            "march.Index(fields=('score',), condition='score > 0', name='doc_positive'))",
        )
        project.write_models({"app": models(doc)})
        project.makemigrations()
        project.migrate()
        assert project.check_schema() == []
        for name, create in (
            ("doc_cover", "CREATE INDEX doc_cover ON doc (title)"),
            ("doc_hash", "CREATE INDEX doc_hash ON doc (title)"),
            ("doc_positive", "CREATE INDEX doc_positive ON doc (score) WHERE score > 1"),
        ):
            backend.execute(project.url, f"DROP INDEX {name}")
            backend.execute(project.url, create)
        assert project.check_schema() == [
            "app.Doc: index doc_cover is USING btree (title) in the database, "
            "USING btree (title, INCLUDE score) in the migrations",
            "app.Doc: index doc_hash is USING btree (title) in the database, "
            "USING hash (title) in the migrations",
            "app.Doc: index doc_positive is USING btree (score) WHERE score > 1 in the database, "
            "USING btree (score) WHERE score > 0 in the migrations",
        ]
    finally:
        backend.cleanup()
