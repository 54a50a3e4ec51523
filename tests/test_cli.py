"""The CLI's happy paths, run as a new user would: ``python -m tortoise_march_ext VERB`` in a copy
of examples/contacts_app, against a real SQLite file (and PostgreSQL for the round trip).
"""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from tests.cliproject import CliProject, make_project, show

MODEL_TABLES = {"company", "contact", "tag", "contact_tag"}
RECORDER = "tortoise_march_migrations"
NICKNAME = 'nickname = fields.CharField(max_length=40, default="")'


@pytest.fixture
def project(tmp_path: Path) -> CliProject:
    """Return a fresh copy of the example project on a SQLite file."""
    return make_project(tmp_path)


@pytest.fixture
def initial(project: CliProject) -> CliProject:
    """Return the project with 0001_initial written (not applied)."""
    project.ok("makemigrations")
    assert project.migration_names() == ["0001_initial.py"]
    return project


def _load(path: Path) -> type:
    return runpy.run_path(str(path))["Migration"]


# -- makemigrations ------------------------------------------------------------------------------
def test_makemigrations_writes_initial_and_describes_it(project: CliProject) -> None:
    result = project.ok("makemigrations")
    assert project.migration_names() == ["0001_initial.py"]
    assert "0001_initial.py" in result.stdout, show(result)
    for model in ("Company", "Contact", "Tag"):
        assert f"Create model {model}" in result.stdout, show(result)
    migration = _load(project.migrations / "0001_initial.py")
    assert [op.describe() for op in migration.operations] == [
        "Create model Company",
        "Create model Tag",
        "Create model Contact",
    ]
    assert list(migration.dependencies) == []
    assert project.tables() == set(), "makemigrations must not touch the database"


def test_makemigrations_again_detects_no_changes(initial: CliProject) -> None:
    before = initial.snapshot()
    result = initial.ok("makemigrations")
    assert "No changes detected" in result.stdout, show(result)
    assert initial.snapshot().files == before.files
    assert initial.migration_names() == ["0001_initial.py"]


def test_makemigrations_check(project: CliProject) -> None:
    result = project.run("makemigrations", "--check")
    assert result.returncode == 1, show(result)
    assert project.migration_names() == [], "--check must not write files"

    project.ok("makemigrations")
    result = project.run("makemigrations", "--check")
    assert result.returncode == 0, show(result)
    assert "No changes detected" in result.stdout, show(result)

    project.add_contact_field(NICKNAME)
    result = project.run("makemigrations", "--check")
    assert result.returncode == 1, show(result)
    assert "Add field nickname to Contact" in result.stdout, show(result)
    assert project.migration_names() == ["0001_initial.py"], "--check must not write files"


def test_makemigrations_dry_run_prints_the_module(project: CliProject) -> None:
    result = project.ok("makemigrations", "--dry-run")
    assert "class Migration(migrations.Migration):" in result.stdout, show(result)
    assert 'migrations.CreateModel(\n            name="Company"' in result.stdout, show(result)
    assert project.migration_names() == [], "--dry-run must not write files"

    project.ok("makemigrations")
    project.add_contact_field(NICKNAME)
    result = project.ok("makemigrations", "--dry-run")
    assert "migrations.AddField(" in result.stdout, show(result)
    assert '("contacts", "0001_initial")' in result.stdout, show(result)
    assert project.migration_names() == ["0001_initial.py"], "--dry-run must not write files"


def test_makemigrations_name(initial: CliProject) -> None:
    initial.add_contact_field(NICKNAME)
    result = initial.ok("makemigrations", "--name", "foo")
    assert initial.migration_names() == ["0001_initial.py", "0002_foo.py"]
    assert "0002_foo.py" in result.stdout, show(result)
    migration = _load(initial.migrations / "0002_foo.py")
    assert [op.describe() for op in migration.operations] == ["Add field nickname to Contact"]
    assert [tuple(d) for d in migration.dependencies] == [("contacts", "0001_initial")]


def test_makemigrations_empty(initial: CliProject) -> None:
    result = initial.ok("makemigrations", "--empty")
    names = initial.migration_names()
    assert len(names) == 2 and names[0] == "0001_initial.py", names
    assert names[1].startswith("0002_"), names
    assert names[1] in result.stdout, show(result)
    migration = _load(initial.migrations / names[1])
    assert [type(op).__name__ for op in migration.operations] == ["RunPython"]
    assert migration.operations[0].forwards.__name__ == "forwards"
    assert [tuple(d) for d in migration.dependencies] == [("contacts", "0001_initial")]
    # The stub does nothing yet: it applies, and the models still match the files.
    initial.ok("migrate")
    result = initial.run("makemigrations", "--check")
    assert result.returncode == 0, show(result)


def test_makemigrations_names_a_new_field(initial: CliProject) -> None:
    initial.add_contact_field(NICKNAME)
    result = initial.ok("makemigrations")
    assert initial.migration_names() == ["0001_initial.py", "0002_contact_nickname.py"]
    assert "Add field nickname to Contact" in result.stdout, show(result)
    assert "No changes detected" in initial.ok("makemigrations").stdout


def test_makemigrations_without_tracked_models_prints_hint(project: CliProject) -> None:
    text = project.models_py.read_text(encoding="utf-8")
    assert text.count("class Meta(march.Meta):") == 3
    project.models_py.write_text(
        text.replace("class Meta(march.Meta):", "class Meta:"), encoding="utf-8"
    )
    result = project.run("makemigrations")
    assert result.returncode == 0, show(result)
    assert "No tracked models" in result.stdout, show(result)
    assert "march.Meta" in result.stdout and 'track = "all"' in result.stdout, show(result)
    assert project.migration_names() == []
    assert result.stderr == "", show(result)


def test_update_then_squash_from_the_cli(initial: CliProject) -> None:
    initial.ok("migrate")
    initial.add_contact_field(NICKNAME)
    initial.ok("makemigrations", "--name", "nickname")
    initial.add_contact_field("age = fields.IntField(null=True)")
    result = initial.ok("makemigrations", "--update")
    assert "Updated migration for 'contacts'" in result.stdout, show(result)
    assert "Add field age to Contact" in result.stdout, show(result)
    assert initial.migration_names() == ["0001_initial.py", "0002_nickname.py"]
    bad = initial.run("squashmigrations", "contacts", "0001", "0002", "0003")
    assert bad.returncode == 2 and "at most two migration names" in bad.stderr, show(bad)
    result = initial.ok("squashmigrations", "contacts", "0002")
    assert "0001_initial_squashed_0002_nickname.py" in result.stdout, show(result)
    # 0001 is applied and 0002 is not: the old migrations finish the job, then the squash counts.
    result = initial.ok("migrate")
    assert "Apply contacts.0002_nickname... Done" in result.stdout, show(result)
    shown = initial.ok("showmigrations").stdout
    assert "[X] 0001_initial_squashed_0002_nickname  (replaces 2 migration(s))" in shown
    assert initial.ok("makemigrations", "--check").returncode == 0
    unchanged = initial.run("makemigrations", "--update", "--check")
    assert unchanged.returncode == 0 and "No changes detected" in unchanged.stdout, show(unchanged)


def test_lint_from_the_cli(initial: CliProject) -> None:
    result = initial.run("lint", "contacts", "--format", "json")
    assert result.returncode == 1, show(result)
    rules = {f["rule"] for f in json.loads(result.stdout)["findings"]}
    assert rules == {"int-pk-overflow"}
    bad = initial.run("lint", "--since", "0001")
    assert bad.returncode == 2 and "--since needs an app" in bad.stderr, show(bad)
    initial.add_contact_field("score = fields.IntField(default=0, db_index=True)")
    made = initial.ok("makemigrations")
    assert "! contacts.0002_contact_score[#0] index-without-concurrently" in made.stdout
    clean = initial.run("lint", "contacts", "--since", "0002")
    assert clean.returncode == 0 and "0 finding(s)" in clean.stdout, show(clean)
    text = initial.run("lint", "contacts", "--since", "0001")
    assert text.returncode == 1 and "index-without-concurrently" in text.stdout, show(text)


# -- migrate -------------------------------------------------------------------------------------
def test_migrate_applies(initial: CliProject) -> None:
    result = initial.ok("migrate")
    assert "Apply contacts.0001_initial" in result.stdout, show(result)
    assert initial.tables() == MODEL_TABLES | {RECORDER}
    assert initial.recorded() == ["0001_initial"]
    columns = initial.snapshot().tables["contact"]
    assert set(columns) == {"id", "name", "email", "created_at", "company_id"}

    before = initial.snapshot()
    result = initial.ok("migrate")
    assert "No migrations to apply" in result.stdout, show(result)
    assert initial.snapshot() == before


@pytest.mark.parametrize("flag", ["--plan", "--sql"])
def test_migrate_plan_and_sql_change_nothing(initial: CliProject, flag: str) -> None:
    before = initial.snapshot()
    result = initial.ok("migrate", flag)
    assert "contacts.0001_initial" in result.stdout, show(result)
    if flag == "--sql":
        assert 'CREATE TABLE "company"' in result.stdout, show(result)
    else:
        assert "Create model Company" in result.stdout, show(result)
    assert initial.snapshot() == before
    assert initial.tables() == set()

    initial.ok("migrate")
    initial.add_contact_field(NICKNAME)
    initial.ok("makemigrations")
    before = initial.snapshot()
    result = initial.ok("migrate", flag)
    assert "contacts.0002_contact_nickname" in result.stdout, show(result)
    assert "0001_initial" not in result.stdout, show(result)
    if flag == "--sql":
        assert "nickname" in result.stdout and "ALTER TABLE" in result.stdout, show(result)
    assert initial.snapshot() == before
    assert "nickname" not in initial.snapshot().tables["contact"]


def test_migrate_fake_records_without_creating_tables(initial: CliProject) -> None:
    result = initial.ok("migrate", "--fake")
    assert "contacts.0001_initial" in result.stdout, show(result)
    assert initial.recorded() == ["0001_initial"]
    assert not (initial.tables() & MODEL_TABLES), initial.tables()
    result = initial.ok("migrate")
    assert "No migrations to apply" in result.stdout, show(result)


def test_migrate_zero_and_back(initial: CliProject) -> None:
    initial.ok("migrate")
    result = initial.ok("migrate", "contacts", "zero")
    assert "Unapply contacts.0001_initial" in result.stdout, show(result)
    assert not (initial.tables() & MODEL_TABLES), initial.tables()
    assert initial.recorded() == []
    initial.ok("migrate")
    assert initial.tables() >= MODEL_TABLES
    assert initial.recorded() == ["0001_initial"]


def test_migrate_to_a_prefix_moves_back_and_forward(initial: CliProject) -> None:
    initial.add_contact_field(NICKNAME)
    initial.ok("makemigrations")
    initial.ok("migrate")
    assert initial.recorded() == ["0001_initial", "0002_contact_nickname"]
    assert "nickname" in initial.snapshot().tables["contact"]

    result = initial.ok("migrate", "contacts", "0001")
    assert "Unapply contacts.0002_contact_nickname" in result.stdout, show(result)
    assert initial.recorded() == ["0001_initial"]
    assert "nickname" not in initial.snapshot().tables["contact"]
    assert initial.tables() >= MODEL_TABLES

    result = initial.ok("migrate", "contacts", "0002")
    assert "Apply contacts.0002_contact_nickname" in result.stdout, show(result)
    assert initial.recorded() == ["0001_initial", "0002_contact_nickname"]
    assert "nickname" in initial.snapshot().tables["contact"]


def test_showmigrations(initial: CliProject) -> None:
    result = initial.ok("showmigrations")
    assert result.stdout.splitlines() == ["contacts", " [ ] 0001_initial"], show(result)
    initial.ok("migrate")
    initial.add_contact_field(NICKNAME)
    initial.ok("makemigrations")
    result = initial.ok("showmigrations")
    assert result.stdout.splitlines() == [
        "contacts",
        " [X] 0001_initial",
        " [ ] 0002_contact_nickname",
    ], show(result)
    result = initial.ok("showmigrations", "contacts")
    assert " [X] 0001_initial" in result.stdout.splitlines(), show(result)


def test_sqlmigrate(initial: CliProject) -> None:
    before = initial.snapshot()
    result = initial.ok("sqlmigrate", "contacts", "0001")
    assert 'CREATE TABLE "company"' in result.stdout, show(result)
    assert 'CREATE TABLE "contact_tag"' in result.stdout, show(result)
    assert "DROP TABLE" not in result.stdout, show(result)
    result = initial.ok("sqlmigrate", "contacts", "0001", "--backwards")
    assert 'DROP TABLE "company"' in result.stdout, show(result)
    assert "CREATE TABLE" not in result.stdout, show(result)
    assert initial.snapshot() == before
    assert initial.tables() == set()


def test_migrate_check(initial: CliProject) -> None:
    result = initial.run("migrate", "--check")
    assert result.returncode == 1, show(result)
    assert "contacts.0001_initial" in result.stdout, show(result)
    assert initial.tables() == set(), "migrate --check must not apply anything"
    initial.ok("migrate")
    result = initial.run("migrate", "--check")
    assert result.returncode == 0, show(result)


# -- PostgreSQL ----------------------------------------------------------------------------------
def test_postgres_round_trip(tmp_path: Path, pg_url: str) -> None:
    project = make_project(tmp_path, pg_url)
    project.ok("makemigrations")
    assert project.tables() == set()

    result = project.run("migrate", "--check")
    assert result.returncode == 1, show(result)
    project.ok("migrate")
    assert project.tables() == MODEL_TABLES | {RECORDER}
    assert project.recorded() == ["0001_initial"]
    assert " [X] 0001_initial" in project.ok("showmigrations").stdout.splitlines()
    assert project.run("migrate", "--check").returncode == 0

    project.ok("migrate", "contacts", "zero")
    assert project.tables() == {RECORDER}
    assert project.recorded() == []

    project.add_contact_field(NICKNAME)
    project.ok("makemigrations")
    project.ok("migrate")
    assert project.tables() == MODEL_TABLES | {RECORDER}
    assert project.recorded() == ["0001_initial", "0002_contact_nickname"]
    assert "nickname" in project.snapshot().tables["contact"]

    project.ok("migrate", "contacts", "0001")
    assert "nickname" not in project.snapshot().tables["contact"]
    assert project.recorded() == ["0001_initial"]


def test_check_reports_drift_and_pending(initial: CliProject) -> None:
    result = initial.run("check")
    assert result.returncode == 0, show(result)
    assert "No drift" in result.stdout, show(result)
    result = initial.run("check", "--database")
    assert result.returncode == 1, show(result)
    assert "pending: contacts.0001_initial" in result.stdout, show(result)
    initial.ok("migrate")
    assert initial.run("check", "--database").returncode == 0
    initial.add_contact_field(NICKNAME)
    before = initial.snapshot()
    result = initial.run("check")
    assert result.returncode == 1, show(result)
    assert "contacts.Contact: field nickname added" in result.stdout, show(result)
    assert "makemigrations" in result.stdout, show(result)
    assert initial.snapshot() == before
