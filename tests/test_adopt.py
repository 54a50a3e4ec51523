"""``adopt`` through the real CLI, on SQLite and PostgreSQL.

A database built by ``generate_schemas()`` (or by another tool, whose recorder table is made here
by hand with the columns that tool uses) is taken over when its tables match the models: the
initial migration is written and recorded as applied. A database that differs, or another tool's
history with migrations left to apply, is refused with nothing written. A migrations folder
holding another tool's files is refused by every command that loads migrations.
"""

from __future__ import annotations

import sqlite3
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from tests.cliproject import CliProject, assert_error, make_project, run_python, show
from tests.harness import Backend
from tests.lockproject import INITIAL, RECORDER, notes_project, pg_fetch

GENERATE = textwrap.dedent(
    """
    from tortoise import Tortoise, run_async
    from settings import TORTOISE_ORM

    async def main():
        await Tortoise.init(config=TORTOISE_ORM)
        await Tortoise.generate_schemas()

    run_async(main())
    """
)
NEW_FIELD = "phone = fields.CharField(max_length=30, null=True)"
AERICH_FILE = textwrap.dedent(
    '''
    from tortoise import BaseDBAsyncClient


    async def upgrade(db: BaseDBAsyncClient) -> str:
        return """
            CREATE TABLE IF NOT EXISTS "tag" ("id" SERIAL PRIMARY KEY);"""


    async def downgrade(db: BaseDBAsyncClient) -> str:
        return """
            DROP TABLE IF EXISTS "tag";"""


    MODELS_STATE = (
        "eJztlm1P2zAQx7"
    )
    '''
)
BUILTIN_FILE = textwrap.dedent(
    """
    from tortoise import migrations
    from tortoise.migrations import operations as ops


    class Migration(migrations.Migration):
        initial = True

        operations = []
    """
)
AERICH_NAMES = ["0_20240101000000_init", "1_20240102000000_add_phone"]


def generated(tmp_path: Path, backend: Backend) -> CliProject:
    """Return the example project, no migrations, its database built by generate_schemas()."""
    project = make_project(tmp_path, backend.new_url())
    made = run_python(project.root, project.env(), GENERATE)
    assert made.returncode == 0, made.stderr
    return project


def execute(backend: Backend, project: CliProject, *statements: str) -> None:
    for sql in statements:
        backend.execute(project.database_url, sql)


def aerich_history(
    backend: Backend, project: CliProject, applied: list[str], files: list[str]
) -> None:
    """Make aerich's table (its columns) with ``applied`` and its folder with ``files``."""
    execute(
        backend,
        project,
        "CREATE TABLE aerich (id INTEGER PRIMARY KEY, version VARCHAR(255) NOT NULL, "
        "app VARCHAR(100) NOT NULL, content TEXT NOT NULL)",
        *(
            f"INSERT INTO aerich (id, version, app, content) VALUES ({i + 1}, '{name}.py', "
            "'contacts', '{}')"
            for i, name in enumerate(applied)
        ),
    )
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text(encoding="utf-8")
        + '\n[tool.aerich]\ntortoise_orm = "settings.TORTOISE_ORM"\n'
        'location = "./aerich_migrations"\nsrc_folder = "./."\n',
        encoding="utf-8",
    )
    folder = project.root / "aerich_migrations" / "contacts"
    folder.mkdir(parents=True)
    for name in files:
        (folder / f"{name}.py").write_text(AERICH_FILE, encoding="utf-8")


def rows(backend: Backend, project: CliProject, table: str) -> int:
    return backend.execute(project.database_url, f"SELECT COUNT(*) FROM {table}")[0][0]


def assert_nothing_done(project: CliProject, tables: set[str]) -> None:
    assert project.files() == {}, "a migration file was left"
    assert project.tables() == tables, "the database changed"


# -- generate_schemas() ------------------------------------------------------------------------
def test_generated_database_is_adopted_then_migrated(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    tables = project.tables()
    result = project.run("adopt")
    assert result.returncode == 0, show(result)
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("adopted contacts: wrote "), show(result)
    assert "contacts/0001_initial.py" in line and "recorded as applied" in line, show(result)
    assert "4 table(s) match" in line, show(result)
    assert project.migration_names() == ["0001_initial.py"]
    assert project.recorded() == ["0001_initial"]
    assert project.tables() == tables | {"tortoise_march_migrations"}
    assert project.run("check", "--schema").returncode == 0
    assert project.run("check").returncode == 0

    project.add_contact_field(NEW_FIELD)
    project.ok("makemigrations")
    migrated = project.run("migrate")
    assert migrated.returncode == 0, show(migrated)
    assert "phone" in backend.introspect(project.database_url)["contact"]["columns"]
    assert len(project.recorded()) == 2
    assert project.run("check", "--schema").returncode == 0


def test_a_column_changed_by_hand_is_refused(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    if backend.name == "postgres":
        execute(backend, project, "ALTER TABLE tag ALTER COLUMN label TYPE VARCHAR(80)")
        expected = [
            "contacts.Tag: column label is VARCHAR(80) in the database, VARCHAR(50) in the "
            "migrations"
        ]
    else:
        execute(backend, project, "ALTER TABLE tag RENAME COLUMN label TO title")
        expected = [
            "contacts.Tag: column label is missing in the database",
            "contacts.Tag: column title is in the database only",
        ]
    tables = project.tables()
    result = project.run("adopt")
    assert result.returncode == 1, show(result)
    assert result.stdout.strip().splitlines() == expected, show(result)
    (error,) = result.stderr.strip().splitlines()
    assert error.startswith("error: adopt contacts:"), show(result)
    for words in (f"{len(expected)} way(s)", "nothing was written or recorded", "makemigrations"):
        assert words in error, show(result)
    assert_nothing_done(project, tables)


def test_an_empty_database_is_not_adopted(tmp_path: Path, backend: Backend) -> None:
    project = make_project(tmp_path, backend.new_url())
    for args in (["adopt"], ["adopt", "--write-difference"]):
        result = project.run(*args)
        assert_error(result, 1, "adopt contacts: none of its tables", "`makemigrations`")
        assert project.files() == {}
        assert project.tables() == set()


def test_adopt_skips_an_app_that_has_migrations(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    project.ok("makemigrations")
    files = project.files()
    result = project.run("adopt", "contacts")
    assert result.returncode == 0, show(result)
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("contacts: skipped, it already has 1 migration(s)"), show(result)
    assert "migrate --fake-initial" in line, show(result)
    assert project.files() == files
    assert project.recorded() == []


def test_unknown_app_is_bad_input(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    tables = project.tables()
    assert_error(project.run("adopt", "contacts", "nope"), 2, "unknown app", "'nope'")
    assert_nothing_done(project, tables)


def quoted(backend: Backend, name: str) -> str:
    """Return ``name`` quoted as the backend's editor quotes it."""
    return f"`{name}`" if backend.name == "mysql" else f'"{name}"'


# -- other tools' histories ----------------------------------------------------------------
def test_aerich_history_fully_applied_is_named(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    aerich_history(backend, project, AERICH_NAMES, AERICH_NAMES)
    result = project.run("adopt")
    assert result.returncode == 0, show(result)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == (
        "found aerich's history for app contacts: 2 migration(s) applied, "
        "last 1_20240102000000_add_phone"
    ), show(result)
    assert lines[1].startswith("adopted contacts:"), show(result)
    assert f"DROP TABLE {quoted(backend, 'aerich')};" in lines[2], show(result)
    assert project.recorded() == ["0001_initial"]
    assert rows(backend, project, "aerich") == 2, "aerich's table was changed"


def test_aerich_history_with_an_unapplied_file_is_refused(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    waiting = "2_20240103000000_add_email"
    aerich_history(backend, project, AERICH_NAMES, [*AERICH_NAMES, waiting])
    tables = project.tables()
    result = project.run("adopt")
    assert_error(result, 1, "aerich's history for app contacts", waiting, "`aerich upgrade`")
    for words in ("1 not applied", "nothing was written", "adopt --write-difference"):
        assert words in result.stderr, show(result)
    assert_nothing_done(project, tables)


def test_models_ahead_of_aerich_are_refused_naming_aerich(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    aerich_history(backend, project, AERICH_NAMES, AERICH_NAMES)
    project.add_contact_field(NEW_FIELD)
    tables = project.tables()
    result = project.run("adopt")
    assert result.returncode == 1, show(result)
    assert result.stdout.strip().splitlines() == [
        "found aerich's history for app contacts: 2 migration(s) applied, "
        "last 1_20240102000000_add_phone",
        "contacts.Contact: column phone is missing in the database",
    ], show(result)
    (error,) = result.stderr.strip().splitlines()
    assert "the database aerich built differs" in error, show(result)
    assert "run `adopt --write-difference`" in error, show(result)
    assert_nothing_done(project, tables)


def test_write_difference_adopts_what_aerich_built_and_writes_the_rest(
    tmp_path: Path, backend: Backend
) -> None:
    # aerich has a migration it did not apply yet (the phone column the models have).
    project = generated(tmp_path, backend)
    waiting = "2_20240103000000_add_phone"
    aerich_history(backend, project, AERICH_NAMES[:1], [*AERICH_NAMES[:1], waiting])
    project.add_contact_field(NEW_FIELD)
    result = project.run("adopt", "--write-difference")
    assert result.returncode == 0, show(result)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == (
        "found aerich's history for app contacts: 1 migration(s) applied, last "
        f"0_20240101000000_init, 1 not applied ({waiting})"
    ), show(result)
    assert lines[1].startswith("adopted contacts: wrote "), show(result)
    assert lines[2].startswith("wrote ") and "not applied" in lines[2], show(result)
    first, second = project.migration_names()
    assert first == "0001_initial.py" and second.startswith("0002_"), show(result)
    assert project.recorded() == ["0001_initial"]
    assert "phone" not in backend.introspect(project.database_url)["contact"]["columns"]

    project.ok("migrate")
    assert "phone" in backend.introspect(project.database_url)["contact"]["columns"]
    assert project.run("check", "--schema").returncode == 0
    assert project.run("check").returncode == 0


def test_write_difference_refuses_what_it_cannot_write(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    execute(backend, project, "ALTER TABLE tag ADD COLUMN extra INTEGER")
    tables = project.tables()
    result = project.run("adopt", "--write-difference")
    assert result.returncode == 1, show(result)
    assert result.stdout.strip().splitlines() == [
        "contacts.Tag: column extra is in the database only"
    ], show(result)
    (error,) = result.stderr.strip().splitlines()
    for words in ("writes only what the models add", "Make the models match the database"):
        assert words in error, show(result)
    assert_nothing_done(project, tables)


def test_a_table_named_aerich_that_is_not_aerichs_is_bad_input(
    tmp_path: Path, backend: Backend
) -> None:
    project = generated(tmp_path, backend)
    execute(backend, project, "CREATE TABLE aerich (id INTEGER PRIMARY KEY, title TEXT)")
    tables = project.tables()
    result = project.run("adopt")
    assert_error(result, 2, "table aerich", "could not be read", "nothing was written")
    assert_nothing_done(project, tables)


def builtin_project(tmp_path: Path, backend: Backend, files: list[str]) -> CliProject:
    project = generated(tmp_path, backend)
    execute(
        backend,
        project,
        "CREATE TABLE tortoise_migrations (id INTEGER PRIMARY KEY, app VARCHAR(255) NOT NULL, "
        "name VARCHAR(255) NOT NULL, applied_at TIMESTAMP NOT NULL)",
        "INSERT INTO tortoise_migrations (id, app, name, applied_at) "
        "VALUES (1, 'contacts', '0001_initial', CURRENT_TIMESTAMP)",
    )
    project.replace_in(
        project.root / "settings.py",
        '"default_connection": "default"',
        '"default_connection": "default", "migrations": "contacts.migrations"',
    )
    folder = project.root / "contacts" / "migrations"
    folder.mkdir()
    (folder / "__init__.py").write_text("", encoding="utf-8")
    for name in files:
        (folder / f"{name}.py").write_text(BUILTIN_FILE, encoding="utf-8")
    return project


def test_builtin_history_is_named(tmp_path: Path, backend: Backend) -> None:
    project = builtin_project(tmp_path, backend, ["0001_initial"])
    result = project.run("adopt")
    assert result.returncode == 0, show(result)
    lines = result.stdout.strip().splitlines()
    assert lines[0] == (
        "found Tortoise's built-in migrations' history for app contacts: 1 migration(s) "
        "applied, last 0001_initial"
    ), show(result)
    assert lines[1].startswith("adopted contacts:"), show(result)
    assert f"DROP TABLE {quoted(backend, 'tortoise_migrations')};" in lines[2], show(result)
    assert project.recorded() == ["0001_initial"]
    assert rows(backend, project, "tortoise_migrations") == 1


def test_builtin_history_with_an_unapplied_module_is_refused(
    tmp_path: Path, backend: Backend
) -> None:
    project = builtin_project(tmp_path, backend, ["0001_initial", "0002_more"])
    tables = project.tables()
    result = project.run("adopt")
    assert_error(result, 1, "built-in migrations' history", "0002_more", "`tortoise -c ")
    assert_nothing_done(project, tables)


def test_tortoise_march_history_is_named(tmp_path: Path, backend: Backend) -> None:
    # Tortoise March needs Python 3.12 and is not installed here: its recorder table is made by
    # hand with the columns its recorder creates (id, name, applied_at; no app column).
    project = generated(tmp_path, backend)
    execute(
        backend,
        project,
        "CREATE TABLE tortoisemarch_applied_migrations (id INTEGER PRIMARY KEY, "
        "name TEXT NOT NULL UNIQUE, applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)",
        "INSERT INTO tortoisemarch_applied_migrations (id, name) VALUES (1, '0001_initial')",
    )
    result = project.run("adopt")
    assert result.returncode == 0, show(result)
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith(
        "found Tortoise March's history for the database: 1 migration(s) applied, last 0001_initial"
    ), show(result)
    assert lines[1].startswith("adopted contacts:"), show(result)
    drop = f"DROP TABLE {quoted(backend, 'tortoisemarch_applied_migrations')};"
    assert drop in lines[2], show(result)
    assert rows(backend, project, "tortoisemarch_applied_migrations") == 1


# -- another tool's files in our folder ----------------------------------------------------
def test_aerich_files_in_our_location_get_one_line(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    path = project.write_migration("0_20240101000000_init", AERICH_FILE)
    tables = project.tables()
    for verb in ("makemigrations", "migrate", "adopt", "showmigrations"):
        result = project.run(verb)
        assert_error(result, 2, str(path), "aerich", "location")
    assert project.tables() == tables


def test_builtin_files_in_our_location_get_one_line(tmp_path: Path, backend: Backend) -> None:
    project = generated(tmp_path, backend)
    path = project.write_migration("0001_initial", BUILTIN_FILE)
    for verb in ("makemigrations", "migrate"):
        result = project.run(verb)
        assert_error(result, 2, str(path), "Tortoise's built-in migrations", "location")


# -- the migration lock ------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_concurrent_adopts_record_the_initial_migration_once(kind: str, tmp_path: Path) -> None:
    with notes_project(kind, tmp_path, {"0001_initial": INITIAL}) as project:
        built = project.cli("migrate")
        assert built.returncode == 0, str(built)
        (project.folder / "0001_initial.py").unlink()
        if project.is_postgres:
            pg_fetch(project.url, f"DROP TABLE {RECORDER}")
        else:
            with closing(sqlite3.connect(project.sqlite_path)) as conn:
                conn.execute(f"DROP TABLE {RECORDER}")
                conn.commit()
        assert project.tables() == {"note"}
        with project.workers(3, tmp_path / "barrier", "adopt") as workers:
            runs = workers.run_round(project.url)
        assert all(run.returncode == 0 for run in runs), "\n".join(map(str, runs))
        adopted = [run for run in runs if "adopted notes: wrote " in run.stdout]
        assert len(adopted) == 1, "\n".join(map(str, runs))
        for run in runs:
            if run is not adopted[0]:
                assert run.stdout.startswith("notes: skipped, "), str(run)
        assert project.recorded() == [("notes", "0001_initial")]
        assert sorted(p.name for p in project.folder.iterdir()) == ["0001_initial.py"]
