"""``migrate --sql``: the script runs with the database's own client (psql, sqlite3, mysql), with
no tool involved, and builds the schema ``migrate`` builds and records the rows ``migrate``
records; ``--from`` plans without a connection; Python steps refuse or are skipped.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cliproject import CliProject, assert_error, make_project, migration_source, show
from tests.conftest import _mysql_parts
from tests.harness import Backend

SETTINGS = 'safe_defaults = true\ndb_lock_timeout = "3s"\ndb_statement_timeout = "1min"\n'
NICKNAME = "nickname = fields.CharField(max_length=50, null=True)"
RECORDER = "SELECT app, name, checksum FROM tortoise_march_migrations ORDER BY app, name"
UNREACHABLE = {
    "postgres": "postgres://postgres@127.0.0.1:1/nothing_listens",
    "mysql": "mysql://root:@127.0.0.1:1/nothing_listens",
}


def run_client(backend: Backend, url: str, script: str, tmp_path: Path) -> None:
    """Run ``script`` with the database's own command-line client; fail on its first error."""
    path = tmp_path / "script.sql"
    path.write_text(script, encoding="utf-8")
    if backend.name == "postgres":
        args = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f", str(path)]
        stdin = None
    elif backend.name == "mysql":
        parts = _mysql_parts()
        args = ["mysql", "-h", str(parts["host"]), "-P", str(parts["port"])]
        args += ["-u", str(parts["user"]), url.rsplit("/", 1)[1]]
        args += [f"-p{parts['password']}"] if parts["password"] else []
        stdin = script
    else:
        args = ["sqlite3", "-bail", url.removeprefix("sqlite://")]
        stdin = script
    client = shutil.which(args[0])
    assert client is not None, f"{args[0]} is not installed"
    done = subprocess.run(
        args, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, f"{args[0]} failed:\n{done.stdout}\n{done.stderr}\n{script}"
    assert "ERROR" not in done.stderr.upper(), done.stderr


def add_models(project: CliProject) -> None:
    """Version 2 of the models: a new column with an index (concurrent on PostgreSQL)."""
    project.add_contact_field(NICKNAME)
    project.replace_in(
        project.models_py,
        '        unique_together = (("name", "email"),)\n',
        '        unique_together = (("name", "email"),)\n        indexes = (("nickname",),)\n',
    )


def make_history(tmp_path: Path, url: str) -> CliProject:
    """Return the contacts example with three steps of history: the initial migration, a
    column with an index, and a data migration (RunSQL) whose value has a quote in it."""
    project = make_project(tmp_path, url)
    pyproject = project.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text(encoding="utf-8") + SETTINGS, encoding="utf-8")
    project.ok("makemigrations")
    add_models(project)
    project.ok("makemigrations")
    leaf = project.migration_names()[-1].removesuffix(".py")
    number = len(project.migration_names()) + 1
    project.write_migration(
        f"{number:04d}_tags",
        migration_source(
            f'("contacts", "{leaf}")',
            "migrations.RunSQL(\"INSERT INTO tag (label) VALUES ('it''s')\", "
            'reverse_sql="DELETE FROM tag")',
        ),
    )
    return project


@pytest.fixture
def history(backend: Backend, tmp_path: Path) -> CliProject:
    """The history of :func:`make_history` on each backend."""
    return make_history(tmp_path, backend.new_url())


def state(backend: Backend, url: str) -> tuple[object, list[tuple[object, ...]], list[object]]:
    """Return the schema, the recorder rows and the tag labels of the database at ``url``."""
    rows = backend.execute(url, RECORDER)
    labels = [r[0] for r in backend.execute(url, "SELECT label FROM tag ORDER BY label")]
    return backend.introspect(url), [tuple(r) for r in rows], labels


def test_script_builds_and_records_what_migrate_does(
    history: CliProject, backend: Backend, tmp_path: Path
) -> None:
    script = history.ok("migrate", "--sql").stdout
    assert "BEGIN;" in script and "COMMIT;" in script, script
    assert "CREATE TABLE IF NOT EXISTS" in script and "tortoise_march_migrations" in script
    assert history.tables() == set()  # writing the script ran nothing
    run_client(backend, history.database_url, script, tmp_path)

    reference = backend.new_url()
    done = history.run("migrate", DATABASE_URL=reference)
    assert done.returncode == 0, show(done)
    scripted, migrated = state(backend, history.database_url), state(backend, reference)
    assert scripted[0] == migrated[0]
    assert scripted[1] == migrated[1] and len(scripted[1]) == len(history.migration_names())
    assert scripted[2] == migrated[2] == ["it's"]

    again = history.ok("migrate")
    assert "No migrations to apply" in again.stdout, show(again)
    shown = history.ok("showmigrations").stdout
    assert shown.count("[X]") == len(history.migration_names()) and "[ ]" not in shown, shown
    assert history.ok("check", "--schema").returncode == 0


def test_backward_script_deletes_rows_as_migrate_does(
    history: CliProject, backend: Backend, tmp_path: Path
) -> None:
    reference = backend.new_url()
    for url in (history.database_url, reference):
        assert history.run("migrate", DATABASE_URL=url).returncode == 0
    script = history.ok("migrate", "contacts", "0001", "--sql").stdout
    recorder = [line for line in script.splitlines() if "tortoise_march_migrations" in line]
    deletes = ["DELETE"] * (len(history.migration_names()) - 1)
    assert [line.split(" ", 1)[0] for line in recorder] == ["CREATE", *deletes]
    run_client(backend, history.database_url, script, tmp_path)
    done = history.run("migrate", "contacts", "0001", DATABASE_URL=reference)
    assert done.returncode == 0, show(done)
    scripted, migrated = state(backend, history.database_url), state(backend, reference)
    assert scripted == migrated
    assert [r[1] for r in scripted[1]] == ["0001_initial"] and scripted[2] == []
    shown = history.ok("showmigrations").stdout
    assert shown.count("[X]") == 1, shown


def test_from_opens_no_connection(history: CliProject, backend: Backend, tmp_path: Path) -> None:
    """--from plans without the recorder: against a server that is not there (nothing listens
    on the port; a SQLite file in a folder that does not exist) the script is the one written
    from the recorder of an empty database, and it runs."""
    online = history.ok("migrate", "--sql").stdout
    missing = tmp_path / "no_such_folder" / "db.sqlite3"
    nowhere = UNREACHABLE.get(backend.name, f"sqlite://{missing}")
    offline = history.run("migrate", "--sql", "--from", "zero", DATABASE_URL=nowhere)
    assert offline.returncode == 0 and offline.stderr == "", show(offline)
    assert offline.stdout == online and "CREATE TABLE" in online
    assert not missing.parent.exists()
    plain = history.run("migrate", DATABASE_URL=nowhere)
    assert plain.returncode != 0  # the address really is unreachable

    first = history.migration_names()[0].removesuffix(".py")
    history.ok("migrate", "contacts", first)
    rest_online = history.ok("migrate", "--sql").stdout
    rest = history.run("migrate", "--sql", "--from", f"contacts:{first}", DATABASE_URL=nowhere)
    assert rest.returncode == 0 and rest.stdout == rest_online, show(rest)
    prefix = history.run("migrate", "contacts", "--sql", "--from", "0001", DATABASE_URL=nowhere)
    assert prefix.stdout == rest_online, show(prefix)
    run_client(backend, history.database_url, rest.stdout, tmp_path)
    assert "No migrations to apply" in history.ok("migrate").stdout
    last = history.migration_names()[-1].removesuffix(".py")
    back_online = history.ok("migrate", "contacts", first, "--sql").stdout
    back = history.run(
        "migrate", "contacts", first, "--sql", "--from", f"contacts:{last}", DATABASE_URL=nowhere
    )
    assert back.returncode == 0 and back.stdout == back_online, show(back)
    assert "DELETE FROM" in back.stdout


def test_postgres_script_keeps_transactions_and_timeouts(pg_url: str, tmp_path: Path) -> None:
    history = make_history(tmp_path, pg_url)
    lines = history.ok("migrate", "--sql").stdout.splitlines()
    concurrent = next(i for i, line in enumerate(lines) if "INDEX CONCURRENTLY" in line)
    opened = [i for i, line in enumerate(lines) if line == "BEGIN;"]
    closed = [i for i, line in enumerate(lines) if line == "COMMIT;"]
    assert not any(b < concurrent < c for b, c in zip(opened, closed, strict=True))
    assert lines[concurrent - 2 : concurrent] == [
        "SET statement_timeout = '1min';",
        "-- Add index nickname on Contact",
    ]
    assert lines[opened[0] + 2 : opened[0] + 4] == [
        "SET LOCAL lock_timeout = '3s';",
        "SET LOCAL statement_timeout = '1min';",
    ]
    assert "RESET lock_timeout;" in lines[concurrent:]


def test_mysql_script_says_ddl_commits_and_keeps_the_mark(mysql_url: str, tmp_path: Path) -> None:
    history = make_history(tmp_path, mysql_url)
    script = history.ok("migrate", "--sql").stdout
    assert "commits each DDL statement on its own" in script
    assert "INSERT INTO `tortoise_march_progress`" in script
    assert "SET SESSION lock_wait_timeout = 3;" in script
    data = script.split("-- Raw SQL operation\n", 1)[1].splitlines()
    assert script.split("-- Raw SQL operation\n", 1)[0].endswith("BEGIN;\n")
    assert data[0] == "INSERT INTO tag (label) VALUES ('it''s');"


RUN_PYTHON = """
def fill(apps):
    pass
"""


@pytest.fixture
def with_python(tmp_path: Path) -> CliProject:
    project = make_project(tmp_path)
    project.ok("makemigrations")
    source = migration_source(
        '("contacts", "0001_initial")', "migrations.RunPython(fill)", imports=""
    ).replace("\n\nclass Migration", RUN_PYTHON + "\n\nclass Migration")
    project.write_migration("0002_fill", source)
    return project


def test_python_step_refuses_the_script(with_python: CliProject) -> None:
    for args in (("migrate", "--sql"), ("migrate", "--sql", "--from", "zero")):
        result = with_python.run(*args)
        assert_error(result, 2, "contacts.0002_fill", "Run Python code fill", "--skip-python")
        assert result.stdout == "", show(result)
    assert with_python.tables() == set()


def test_skip_python_leaves_a_comment(with_python: CliProject, tmp_path: Path) -> None:
    result = with_python.ok("migrate", "--sql", "--skip-python")
    assert (
        "-- skipped (--skip-python): 'Run Python code fill' of contacts.0002_fill" in result.stdout
    )
    assert "'0002_fill'" in result.stdout  # still recorded, as the comment says how to run it
    run_client(Backend("sqlite", tmp_path), with_python.database_url, result.stdout, tmp_path)
    assert with_python.recorded() == ["0001_initial", "0002_fill"]


def test_from_and_skip_python_need_sql(with_python: CliProject) -> None:
    assert_error(with_python.run("migrate", "--from", "zero"), 2, "--sql")
    assert_error(with_python.run("migrate", "--sql", "--from", "0001"), 2, "APP")
    assert_error(with_python.run("migrate", "--sql", "--plan"), 2, "--plan")


def test_squash_is_recorded_with_what_it_replaces(tmp_path: Path) -> None:
    backend = Backend("sqlite", tmp_path)
    history = make_history(tmp_path, backend.new_url())
    last = history.migration_names()[-1].removesuffix(".py")
    history.ok("squashmigrations", "contacts", last)
    script = history.ok("migrate", "--sql", "--from", "zero").stdout
    run_client(backend, history.database_url, script, tmp_path)
    reference = backend.new_url()
    assert history.run("migrate", DATABASE_URL=reference).returncode == 0
    rows = backend.execute(history.database_url, RECORDER)
    assert rows == backend.execute(reference, RECORDER)
    assert len(rows) == len(history.migration_names())  # the squash and each it replaces
    assert "No migrations to apply" in history.ok("migrate").stdout
