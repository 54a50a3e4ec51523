"""Vendored migrations (``include_locations``), through the real CLI.

The project is a copy of examples/contacts_app plus a ``billing`` app shipped as if by a library:
its models in ``vendor/billing/models.py``, its migrations in ``vendor/billing/migrations``
(outside ``location``). The project's own migration points a foreign key at billing's model, so
the two histories form one graph.
"""

from __future__ import annotations

import ast
import hashlib
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.cliproject import TIMEOUT, CliProject, error_problems, make_project, show
from tests.conftest import drop_pg_database, new_pg_database, require_postgres

BILLING_MODELS = '''"""Models of a library's billing app."""

from tortoise import fields
from tortoise.models import Model

import tortoise_march_ext as march


class Invoice(Model):
    id = fields.IntField(primary_key=True)
    number = fields.CharField(max_length=20)

    class Meta(march.Meta):
        table = "billing_invoice"
'''
SETTINGS = '''"""Tortoise config of the example app with the vendored billing app."""

import os

TORTOISE_ORM = {
    "connections": {"default": os.environ["DATABASE_URL"]},
    "apps": {
        "contacts": {"models": ["contacts.models"], "default_connection": "default"},
        "billing": {"models": ["vendor.billing.models"], "default_connection": "default"},
    },
}
'''
BASE = (
    '[tool.tortoise_march_ext]\ntortoise_orm = "settings.TORTOISE_ORM"\nlocation = "migrations"\n'
)
INCLUDE = 'include_locations = [{ label = "billing", path = "vendor/billing/migrations" }]\n'
EMPTY_MIGRATION = """from tortoise_march_ext import migrations


class Migration(migrations.Migration):
    dependencies = (("billing", "0001_initial"),)
    operations = ()
"""
INVOICE_FK = (
    'invoice = fields.ForeignKeyField("billing.Invoice", related_name="contacts", null=True)'
)


def vendored_project(tmp_path: Path, database_url: str | None = None) -> CliProject:
    """Return the project with billing's 0001 vendored and contacts' 0002 depending on it."""
    project = make_project(tmp_path, database_url)
    vendor = project.root / "vendor" / "billing"
    vendor.mkdir(parents=True)
    (project.root / "vendor" / "__init__.py").write_text("", encoding="utf-8")
    (vendor / "__init__.py").write_text("", encoding="utf-8")
    (vendor / "models.py").write_text(BILLING_MODELS, encoding="utf-8")
    (project.root / "settings.py").write_text(SETTINGS, encoding="utf-8")
    project.write_pyproject(BASE)
    project.ok("makemigrations")  # what the library's authors did to ship billing's migrations
    shutil.move(project.root / "migrations" / "billing", vendor / "migrations")
    project.write_pyproject(BASE + INCLUDE)
    project.add_contact_field(INVOICE_FK)
    project.ok("makemigrations")
    return project


@pytest.fixture
def project(tmp_path: Path) -> CliProject:
    """Return the vendored project on a SQLite file."""
    return vendored_project(tmp_path)


@pytest.fixture(params=["sqlite", "postgres"])
def any_project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CliProject]:
    """Yield the vendored project on each backend."""
    if request.param == "sqlite":
        yield vendored_project(tmp_path)
        return
    require_postgres()
    url = new_pg_database()
    try:
        yield vendored_project(tmp_path, url)
    finally:
        drop_pg_database(url)


def vendored_files(project: CliProject) -> dict[str, str]:
    """Return the vendored migration files with their text."""
    folder = project.root / "vendor" / "billing" / "migrations"
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.py"))}


def recorded(project: CliProject) -> list[tuple[str, str]]:
    """Return the recorder rows as (app, name)."""
    return [(app, name) for app, name, _ in project.snapshot().recorded]


# -- layout and makemigrations -------------------------------------------------------------------
def test_project_migration_depends_on_the_vendored_one(project: CliProject) -> None:
    assert project.migration_names() == ["0001_initial.py", "0002_contact_invoice.py"]
    second = (project.migrations / "0002_contact_invoice.py").read_text(encoding="utf-8")
    assert '("billing", "0001_initial")' in second
    assert not (project.root / "migrations" / "billing").exists()
    assert list(vendored_files(project)) == ["0001_initial.py"]


def test_makemigrations_refuses_to_write_into_a_vendored_app(project: CliProject) -> None:
    before = vendored_files(project)
    project.replace_in(
        project.root / "vendor" / "billing" / "models.py",
        "    number = fields.CharField(max_length=20)\n",
        '    number = fields.CharField(max_length=20)\n    note = fields.TextField(default="")\n',
    )
    for args in (("makemigrations",), ("makemigrations", "billing")):
        result = project.ok(*args)
        lines = [line for line in result.stdout.splitlines() if "vendored" in line]
        assert len(lines) == 1, show(result)
        assert lines[0].startswith("billing: ") and "library" in lines[0], show(result)
        assert "vendor/billing/migrations" in lines[0], show(result)
        assert vendored_files(project) == before
        assert not (project.root / "migrations" / "billing").exists()
    assert project.migration_names() == ["0001_initial.py", "0002_contact_invoice.py"]
    # the project cannot fix the library's models: not a change --check fails on
    result = project.ok("makemigrations", "--check")
    assert "billing: the models changed, but its migrations are vendored" in result.stdout


def test_makemigrations_merge_refuses_a_vendored_conflict(project: CliProject) -> None:
    folder = project.root / "vendor" / "billing" / "migrations"
    (folder / "0002_a.py").write_text(EMPTY_MIGRATION, encoding="utf-8")
    (folder / "0002_b.py").write_text(EMPTY_MIGRATION, encoding="utf-8")
    before = vendored_files(project)
    result = project.run("makemigrations", "--merge")
    problems = error_problems(result, 2, "billing", "0002_a, 0002_b", "vendored", "library")
    assert not problems, problems + [show(result)]
    assert vendored_files(project) == before
    assert not (project.root / "migrations" / "billing").exists()


def test_squashmigrations_refuses_a_vendored_app(project: CliProject) -> None:
    folder = project.root / "vendor" / "billing" / "migrations"
    (folder / "0002_a.py").write_text(EMPTY_MIGRATION, encoding="utf-8")
    before = vendored_files(project)
    result = project.run("squashmigrations", "billing", "0002_a")
    problems = error_problems(result, 2, "billing", "vendored", "vendor/billing/migrations")
    assert not problems, problems + [show(result)]
    assert vendored_files(project) == before
    assert not (project.root / "migrations" / "billing").exists()


def test_makemigrations_empty_for_a_vendored_app_writes_nothing(project: CliProject) -> None:
    before = vendored_files(project)
    result = project.ok("makemigrations", "billing", "--empty")
    assert "billing: its migrations are vendored" in result.stdout, show(result)
    assert vendored_files(project) == before
    assert not (project.root / "migrations" / "billing").exists()


def test_no_changes_in_a_vendored_project(project: CliProject) -> None:
    result = project.ok("makemigrations", "--check")
    assert "No changes detected" in result.stdout, show(result)
    assert "vendored" not in result.stdout, show(result)


# -- migrate, showmigrations, zero, sqlmigrate, --fake ------------------------------------------
def test_migrate_show_and_unapply_a_vendored_app(any_project: CliProject) -> None:
    project = any_project
    result = project.ok("migrate")
    out = result.stdout
    assert "Apply billing:0001_initial... Done" in out, show(result)
    assert out.index("billing:0001_initial") < out.index("contacts.0002_contact_invoice")
    assert {"billing_invoice", "contact"} <= project.tables()
    assert recorded(project) == [
        ("billing", "0001_initial"),
        ("contacts", "0001_initial"),
        ("contacts", "0002_contact_invoice"),
    ]
    shown = project.ok("showmigrations").stdout
    assert "billing\n [X] billing:0001_initial\n" in shown, shown
    assert " [X] 0002_contact_invoice" in shown, shown

    result = project.ok("migrate", "billing", "zero")
    out = result.stdout
    assert "Unapply contacts.0002_contact_invoice... Done" in out, show(result)
    assert out.index("contacts.0002") < out.index("Unapply billing:0001_initial"), show(result)
    assert "billing_invoice" not in project.tables()
    assert "invoice_id" not in project.snapshot().tables["contact"]
    assert recorded(project) == [("contacts", "0001_initial")]
    assert " [ ] billing:0001_initial" in project.ok("showmigrations", "billing").stdout

    result = project.ok("migrate", "billing:0001_initial")
    assert "Apply billing:0001_initial... Done" in result.stdout, show(result)
    assert "contacts.0002" not in result.stdout, show(result)
    assert ("billing", "0001_initial") in recorded(project)


def test_sqlmigrate_a_vendored_migration(any_project: CliProject) -> None:
    project = any_project
    for args in (("billing", "0001_initial"), ("billing:0001",)):
        result = project.ok("sqlmigrate", *args)
        assert "CREATE TABLE" in result.stdout and '"billing_invoice"' in result.stdout, show(
            result
        )
    backwards = project.ok("sqlmigrate", "billing:0001_initial", "--backwards").stdout
    assert "DROP TABLE" in backwards and '"billing_invoice"' in backwards, backwards
    assert project.snapshot().recorded == []


def test_fake_a_vendored_migration(any_project: CliProject) -> None:
    project = any_project
    # billing's table exists but the recorder does not know it (built some other way)
    project.ok("migrate", "billing")
    result = project.ok("migrate", "billing", "zero", "--fake")
    assert "Unapply billing:0001_initial... Faked" in result.stdout, show(result)
    assert "billing_invoice" in project.tables()
    assert recorded(project) == []

    result = project.ok("migrate", "billing", "--fake")
    assert "Apply billing:0001_initial... Faked" in result.stdout, show(result)
    assert recorded(project) == [("billing", "0001_initial")]
    result = project.ok("migrate")
    assert "billing:0001_initial" not in result.stdout, show(result)
    assert "Apply contacts.0002_contact_invoice... Done" in result.stdout, show(result)
    assert "invoice_id" in project.snapshot().tables["contact"]


def test_a_changed_vendored_file_is_named_by_its_path(project: CliProject) -> None:
    project.ok("migrate")
    path = project.root / "vendor" / "billing" / "migrations" / "0001_initial.py"
    project.replace_in(path, "max_length=20", "max_length=30")
    result = project.run("migrate")
    assert result.returncode != 0, show(result)
    assert "vendor/billing/migrations/0001_initial.py" in result.stderr, show(result)


# -- bad configs ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("line", "words"),
    [
        pytest.param('include_locations = "vendor"\n', ["include_locations", "list"], id="str"),
        pytest.param(
            'include_locations = [{ label = "billing" }]\n',
            ["include_locations entry 1", "label and path"],
            id="no-path",
        ),
        pytest.param(
            'include_locations = [{ label = 3, path = "vendor/billing/migrations" }]\n',
            ["label = 3", "app label"],
            id="label-type",
        ),
        pytest.param(
            'include_locations = [{ label = "billing", path = 7 }]\n',
            ["path = 7", "folder"],
            id="path-type",
        ),
        pytest.param(
            'include_locations = [{ label = "billing", path = "vendor/nowhere" }]\n',
            ["billing", "vendor/nowhere", "does not exist"],
            id="missing-folder",
        ),
        pytest.param(
            'include_locations = [{ label = "billing", path = "vendor/billing/migrations" },'
            ' { label = "billing", path = "vendor/billing/migrations" }]\n',
            ["billing", "more than once"],
            id="twice",
        ),
        pytest.param(
            'include_locations = [{ label = "contacts", path = "vendor/billing/migrations" }]\n',
            ["contacts", "clashes", "migrations/contacts"],
            id="clash",
        ),
        pytest.param(
            'include_locations = [{ label = "billing", path = "migrations/contacts" }]\n',
            ["billing", "inside location"],
            id="inside-location",
        ),
        pytest.param(
            'include_locations = [{ label = "payments", path = "vendor/billing/migrations" }]\n',
            ["payments", "not an app"],
            id="not-an-app",
        ),
    ],
)
def test_bad_include_locations(project: CliProject, line: str, words: list[str]) -> None:
    before = project.files(), vendored_files(project)
    project.write_pyproject(BASE + line)
    for verb in ("showmigrations", "makemigrations"):
        result = project.run(verb)
        assert not error_problems(result, 2, *words), error_problems(result, 2, *words) + [
            show(result)
        ]
    assert (project.files(), vendored_files(project)) == before
    assert not project.sqlite_path.exists()


# -- at start-up ---------------------------------------------------------------------------------
def test_ensure_migrated_applies_vendored_migrations_without_drift(project: CliProject) -> None:
    result = subprocess.run(
        [sys.executable, "run_script.py"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "MarchDriftWarning" not in result.stderr, result.stderr
    assert "applied 3 migration(s)" in result.stdout, result.stdout
    assert "billing" in result.stdout, result.stdout
    assert "billing_invoice" in project.tables()
    assert ("billing", "0001_initial") in recorded(project)


def test_ensure_migrated_rewrites_an_old_scheme_row_of_a_vendored_migration(
    project: CliProject,
) -> None:
    """A vendored migration's row written with the old checksum scheme is recognised from the
    vendored file (not looked for under ``location``) and rewritten at start-up."""

    def start() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "run_script.py"],
            cwd=project.root,
            env=project.env(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    assert start().returncode == 0
    source = (project.root / "vendor" / "billing" / "migrations" / "0001_initial.py").read_text(
        encoding="utf-8"
    )
    old = hashlib.sha256(ast.dump(ast.parse(source)).encode("utf-8")).hexdigest()
    new = {(a, n): c for a, n, c in project.snapshot().recorded}[("billing", "0001_initial")]
    assert old != new
    with closing(sqlite3.connect(project.sqlite_path)) as conn, conn:
        conn.execute(
            "UPDATE tortoise_march_migrations SET checksum = ? WHERE app = ? AND name = ?",
            (old, "billing", "0001_initial"),
        )
    result = start()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "old checksum scheme" in result.stdout + result.stderr, result.stdout + result.stderr
    rows = {(a, n): c for a, n, c in project.snapshot().recorded}
    assert rows[("billing", "0001_initial")] == new
