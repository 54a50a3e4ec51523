"""Switching to tortoise-march-ext from generate_schemas(), aerich, Tortoise's built-in migrations
and Tortoise March, end to end with the real tools from PyPI (tests/peers.py builds their venvs).

Each path: the peer builds the database (with a model change it migrates itself), ``adopt``
recognises the peer's history and takes the database over, then our own ``makemigrations`` +
``migrate`` apply the next model change and ``check --schema`` reports nothing. A peer history
with migrations it has not applied yet is refused, with nothing recorded, until the peer's own
upgrade command has run.

Tortoise March (``tortoise-march`` 0.1.0) needs Python >= 3.12 and supports PostgreSQL only: it
runs for real where such an interpreter exists (tests/peers.py: python312); its recorder table
``tortoisemarch_applied_migrations`` (id, name, checksum, applied_at: the layout of its
``recorder.py``) is also created by hand, on every backend, to test the recognition everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import peers
from tests.cliproject import error_problems, run_python, show
from tests.conftest import require_postgres
from tests.harness import Backend
from tests.peers import PeerVenv, SwitchProject

PEER_FIELD = "pages = fields.IntField(null=True)"
OUR_FIELD = "isbn = fields.CharField(max_length=20, null=True)"
TORTOISE_MARCH_TABLE = "tortoisemarch_applied_migrations"


@pytest.fixture(scope="session")
def aerich() -> PeerVenv:
    """Return the venv with aerich 0.10.1."""
    return peers.peer_venv("aerich", peers.AERICH)


@pytest.fixture(scope="session")
def tortoise_cli() -> PeerVenv:
    """Return the venv with tortoise-orm 1.1.9 and its ``tortoise`` CLI."""
    return peers.peer_venv("tortoise", peers.TORTOISE)


@pytest.fixture(scope="session")
def tortoise_march() -> Iterator[PeerVenv]:
    """Return the venv with Tortoise March (skipped where no Python >= 3.12 exists: its recorder
    table is then tested by hand only, see the module docstring)."""
    python = peers.python312()
    if python is None:
        pytest.skip("tortoise-march needs Python >= 3.12 and none was found (MARCH_TEST_PY312)")
    yield peers.peer_venv("tortoise-march", peers.TORTOISE_MARCH, python)


@pytest.fixture
def pg_backend(tmp_path: Path) -> Iterator[Backend]:
    """Yield the PostgreSQL backend only (Tortoise March supports nothing else)."""
    require_postgres()
    made = Backend("postgres", tmp_path)
    yield made
    made.cleanup()


def adopted(project: SwitchProject, *found: str) -> str:
    """Run ``adopt``, assert it adopted the shop app (saying ``found``) and return its output."""
    result = project.run("adopt")
    assert result.returncode == 0, show(result)
    output = result.stdout + result.stderr
    for words in found:
        assert words in output, show(result)
    assert project.recorded() == ["0001_initial"], show(result)
    assert project.migration_names() == ["0001_initial.py"], show(result)
    return output


def refused(project: SwitchProject, *words: str) -> None:
    """Run ``adopt``, assert it refused (exit 1) naming ``words`` and changed nothing."""
    before = project.snapshot()
    result = project.run("adopt")
    assert result.returncode == 1, show(result)
    assert "Traceback" not in result.stderr, show(result)
    for word in words:
        assert word in result.stdout + result.stderr, show(result)
    after = project.snapshot()
    assert after.recorded == [] and after.files == {}, show(result)
    assert after.tables == before.tables, show(result)


def drop_old_table(project: SwitchProject, backend: Backend, output: str, table: str) -> None:
    """Run the statement adopt printed to drop the old tool's ``table``; nothing else changes."""
    hints = [line for line in output.splitlines() if "drop it with: " in line]
    assert len(hints) == 1 and table in hints[0], output
    before = backend.introspect(project.database_url)
    backend.execute(project.database_url, hints[0].split("drop it with: ", 1)[1])
    after = backend.introspect(project.database_url)
    assert table in before and table not in after
    assert {name: value for name, value in before.items() if name != table} == after
    check = project.run("check", "--schema")
    assert check.returncode == 0, show(check)


def our_next_migration(project: SwitchProject, backend: Backend) -> None:
    """Change a model, makemigrations + migrate with our CLI, and check the live schema."""
    count = len(project.migration_names())
    project.add_book_field(OUR_FIELD)
    project.ok("makemigrations")
    assert len(project.migration_names()) == count + 1
    project.ok("migrate")
    assert len(project.recorded()) == count + 1
    assert "isbn" in backend.introspect(project.database_url)["book"]["columns"]
    check = project.run("check", "--schema")
    assert check.returncode == 0, show(check)
    assert project.run("makemigrations", "--check").returncode == 0


# -- generate_schemas() -----------------------------------------------------------------------


def test_generate_schemas_database_is_adopted(tmp_path: Path, backend: Backend) -> None:
    project = SwitchProject.create(tmp_path, backend.new_url())
    project.generate_schemas()
    adopted(project)
    our_next_migration(project, backend)


def test_generate_schemas_database_behind_the_models_is_refused(
    tmp_path: Path, backend: Backend
) -> None:
    project = SwitchProject.create(tmp_path, backend.new_url())
    project.generate_schemas()
    project.add_book_field(PEER_FIELD)
    refused(project, "pages")


# -- aerich -----------------------------------------------------------------------------------


def aerich_project(tmp_path: Path, backend: Backend, aerich: PeerVenv, *init: str) -> SwitchProject:
    """Return a project that aerich initialised (init, init-db) with one migration made after
    (``init``: more options of ``aerich init``)."""
    project = SwitchProject.create(tmp_path, backend.new_url())
    project.peer_ok(aerich, "aerich", "init", "-t", "settings.TORTOISE_ORM", *init)
    project.peer_ok(aerich, "aerich", "init-db")
    project.add_book_field(PEER_FIELD)
    project.peer_ok(aerich, "aerich", "migrate", "--name", "pages")
    return project


def test_aerich_database_is_adopted(tmp_path: Path, backend: Backend, aerich: PeerVenv) -> None:
    project = aerich_project(tmp_path, backend, aerich)
    project.peer_ok(aerich, "aerich", "upgrade")
    assert "pages" in backend.introspect(project.database_url)["book"]["columns"]
    output = adopted(project, "aerich", "2 migration(s) applied")
    assert len(backend.execute(project.database_url, "SELECT version FROM aerich")) == 2
    our_next_migration(project, backend)
    drop_old_table(project, backend, output, "aerich")


def test_aerich_history_with_unapplied_migration_is_refused(
    tmp_path: Path, backend: Backend, aerich: PeerVenv
) -> None:
    project = aerich_project(tmp_path, backend, aerich)
    pending = next((project.root / "migrations" / "shop").glob("1_*_pages.py")).stem
    refused(project, "aerich upgrade", pending)
    project.peer_ok(aerich, "aerich", "upgrade")
    adopted(project, "aerich")


def test_aerich_unapplied_migration_is_written_by_adopt_write_difference(
    tmp_path: Path, backend: Backend, aerich: PeerVenv
) -> None:
    project = aerich_project(tmp_path, backend, aerich)
    result = project.run("adopt", "--write-difference")
    assert result.returncode == 0, show(result)
    assert project.recorded() == ["0001_initial"], show(result)
    first, second = project.migration_names()
    assert first == "0001_initial.py" and "pages" in second, show(result)
    assert "pages" not in backend.introspect(project.database_url)["book"]["columns"]
    project.ok("migrate")
    assert "pages" in backend.introspect(project.database_url)["book"]["columns"]
    assert project.run("check", "--schema").returncode == 0


@pytest.mark.parametrize(
    ("location", "folder"),
    [
        ("./aerich_migrations", "aerich_migrations/shop"),
        ("./aerich/{app}/versions", "aerich/shop/versions"),
    ],
)
def test_aerich_location_of_its_config_is_read(
    tmp_path: Path, backend: Backend, aerich: PeerVenv, location: str, folder: str
) -> None:
    """aerich 0.10 with tortoise-orm >= 1.0 writes its config as ``[tool.tortoise]`` (it reads
    ``[tool.aerich]`` first, then ``[tool.tortoise]``); a ``{app}`` in its location is the app's
    folder, else the folder is ``<location>/<app>`` (aerich's ``Migrate.get_migration_dir``)."""
    project = aerich_project(tmp_path, backend, aerich, "--location", location)
    assert "[tool.tortoise]" in (project.root / "pyproject.toml").read_text(encoding="utf-8")
    pending = next((project.root / folder).glob("1_*_pages.py")).stem
    refused(project, "aerich upgrade", pending)


def test_our_location_holding_aerich_files_is_named(
    tmp_path: Path, backend: Backend, aerich: PeerVenv
) -> None:
    project = SwitchProject.create(tmp_path, backend.new_url())
    project.write_pyproject(peers.PYPROJECT.format(location="migrations"))
    project.peer_ok(aerich, "aerich", "init", "-t", "settings.TORTOISE_ORM")
    project.peer_ok(aerich, "aerich", "init-db")
    before = project.snapshot()
    for verb in ("adopt", "makemigrations"):
        result = project.run(verb)
        assert error_problems(result, 2, "aerich", "location") == [], show(result)
    assert project.snapshot().tables == before.tables


def test_aerich_models_listed_in_the_config_are_removed_first(
    tmp_path: Path, backend: Backend, aerich: PeerVenv
) -> None:
    """aerich's own docs list "aerich.models" in the config; without aerich installed, the
    config cannot be loaded (one line), and without the entry adopt takes the database over."""
    project = SwitchProject.create(tmp_path, backend.new_url())
    settings = project.root / "settings.py"
    project.replace_in(settings, '["shop.models"]', '["shop.models", "aerich.models"]')
    project.peer_ok(aerich, "aerich", "init", "-t", "settings.TORTOISE_ORM")
    project.peer_ok(aerich, "aerich", "init-db")
    result = project.run("adopt")
    assert error_problems(result, 2, "aerich.models") == [], show(result)
    assert project.snapshot().recorded == []
    project.replace_in(settings, '["shop.models", "aerich.models"]', '["shop.models"]')
    adopted(project, "aerich", "1 migration(s) applied")


# -- Tortoise's built-in migrations -----------------------------------------------------------


def builtin_project(tmp_path: Path, backend: Backend, tortoise_cli: PeerVenv) -> SwitchProject:
    """Return a project migrated by ``tortoise migrate`` with a second migration made after."""
    project = SwitchProject.create(tmp_path, backend.new_url(), builtin=True)
    config = ("-c", "settings.TORTOISE_ORM")
    project.peer_ok(tortoise_cli, "tortoise", *config, "makemigrations")
    project.peer_ok(tortoise_cli, "tortoise", *config, "migrate")
    project.add_book_field(PEER_FIELD)
    project.peer_ok(tortoise_cli, "tortoise", *config, "makemigrations")
    assert len(list((project.root / "shop" / "migrations").glob("0002_*.py"))) == 1
    return project


def test_builtin_migrations_database_is_adopted(
    tmp_path: Path, backend: Backend, tortoise_cli: PeerVenv
) -> None:
    project = builtin_project(tmp_path, backend, tortoise_cli)
    project.peer_ok(tortoise_cli, "tortoise", "-c", "settings.TORTOISE_ORM", "migrate")
    assert "pages" in backend.introspect(project.database_url)["book"]["columns"]
    output = adopted(project, "Tortoise's built-in migrations", "2 migration(s) applied")
    our_next_migration(project, backend)
    drop_old_table(project, backend, output, "tortoise_migrations")


def test_builtin_history_with_unapplied_migration_is_refused(
    tmp_path: Path, backend: Backend, tortoise_cli: PeerVenv
) -> None:
    project = builtin_project(tmp_path, backend, tortoise_cli)
    pending = next((project.root / "shop" / "migrations").glob("0002_*.py")).stem
    refused(project, "`tortoise -c settings.TORTOISE_ORM migrate`", pending)
    project.peer_ok(tortoise_cli, "tortoise", "-c", "settings.TORTOISE_ORM", "migrate")
    adopted(project, "Tortoise's built-in migrations")


# -- Tortoise March ---------------------------------------------------------------------------

TORTOISE_MARCH_CONFIG = """\
[tool.tortoisemarch]
tortoise_orm = "settings.TORTOISE_ORM"
location = "tm_migrations"
"""


TORTOISE_MARCH_INDEXES = ("author_name_idx", "book_title_year_idx")
NAMED_INDEXES = (
    (
        "name = fields.CharField(max_length=100, db_index=True)",
        "name = fields.CharField(max_length=100)",
    ),
    (
        'table = "author"',
        'table = "author"\n        indexes = (Index(fields=("name",), name="author_name_idx"),)',
    ),
    (
        'indexes = (("title", "year"),)',
        'indexes = (Index(fields=("title", "year"), name="book_title_year_idx"),)',
    ),
    (
        "from tortoise.models import Model",
        "from tortoise.indexes import Index\nfrom tortoise.models import Model",
    ),
)


def adopt_named_indexes(project: SwitchProject, backend: Backend, *found: str) -> str:
    """Adopt a database whose indexes Tortoise March named ``<table>_<columns>_idx``, following
    adopt's advice: it refuses listing each index under both names; the models then name the
    indexes as the database does, adopt takes the database over; the models are restored and
    makemigrations + migrate rename them (drop and create) to the names Tortoise derives."""
    refused(project, "Tortoise March", *TORTOISE_MARCH_INDEXES, "makemigrations + migrate")
    original = project.models_py.read_text(encoding="utf-8")
    for old, new in NAMED_INDEXES:
        project.replace_in(project.models_py, old, new)
    output = adopted(project, *found)
    project.models_py.write_text(original, encoding="utf-8")
    project.ok("makemigrations")
    project.ok("migrate")
    assert len(project.recorded()) == 2
    assert project.run("check", "--schema").returncode == 0
    schema = backend.introspect(project.database_url)
    names = {index[0] for table in ("author", "book") for index in schema[table]["indexes"]}
    assert not names & set(TORTOISE_MARCH_INDEXES), names
    return output


def tortoise_march_project(
    tmp_path: Path, backend: Backend, tortoise_march: PeerVenv
) -> SwitchProject:
    """Return a project migrated by ``tortoisemarch migrate``, a second migration made after.

    UUID primary keys: tortoise-march 0.1.0 writes ``IntField(primary_key=True)`` without
    ``generated``, so its integer keys get no identity (inserts would fail) and the database
    rightly differs from the models; UUID keys are built alike by every tool.
    """
    project = SwitchProject.create(tmp_path, backend.new_url(), pk=peers.UUID_PK)
    project.append_pyproject(TORTOISE_MARCH_CONFIG)
    project.peer_ok(tortoise_march, "tortoisemarch", "makemigrations")
    project.peer_ok(tortoise_march, "tortoisemarch", "migrate")
    project.add_book_field(PEER_FIELD)
    project.peer_ok(tortoise_march, "tortoisemarch", "makemigrations", "--name", "pages")
    return project


def test_tortoise_march_database_is_adopted(
    tmp_path: Path, pg_backend: Backend, tortoise_march: PeerVenv
) -> None:
    project = tortoise_march_project(tmp_path, pg_backend, tortoise_march)
    project.peer_ok(tortoise_march, "tortoisemarch", "migrate")
    assert "pages" in pg_backend.introspect(project.database_url)["book"]["columns"]
    output = adopt_named_indexes(project, pg_backend, "Tortoise March", "2 migration(s) applied")
    our_next_migration(project, pg_backend)
    drop_old_table(project, pg_backend, output, TORTOISE_MARCH_TABLE)


def test_tortoise_march_history_with_unapplied_migration_is_refused(
    tmp_path: Path, pg_backend: Backend, tortoise_march: PeerVenv
) -> None:
    project = tortoise_march_project(tmp_path, pg_backend, tortoise_march)
    pending = next((project.root / "tm_migrations").glob("0002_*.py")).stem
    refused(project, "tortoisemarch migrate", pending)
    project.peer_ok(tortoise_march, "tortoisemarch", "migrate")
    result = project.run("adopt")  # the history is complete now: only the index names differ
    assert result.returncode == 1 and "tortoisemarch migrate" not in result.stderr, show(result)
    assert "Tortoise March's history for the database: 2 migration(s)" in result.stdout


RECONCILE_TORTOISE_MARCH = (
    'ALTER TABLE "author" ALTER COLUMN "id" ADD GENERATED BY DEFAULT AS IDENTITY',
    'ALTER TABLE "book" ALTER COLUMN "id" ADD GENERATED BY DEFAULT AS IDENTITY',
    "SELECT setval(pg_get_serial_sequence('author', 'id'), "
    'COALESCE((SELECT MAX("id") FROM "author"), 0) + 1, false)',
    "SELECT setval(pg_get_serial_sequence('book', 'id'), "
    'COALESCE((SELECT MAX("id") FROM "book"), 0) + 1, false)',
    'ALTER INDEX "author_name_idx" RENAME TO "idx_author_name_9e9e67"',
    'ALTER INDEX "book_title_year_idx" RENAME TO "idx_book_title_84007d"',
)


def test_tortoise_march_integer_keys_adopted_after_reconciling_by_hand(
    tmp_path: Path, pg_backend: Backend, tortoise_march: PeerVenv
) -> None:
    """tortoise-march 0.1.0 builds integer primary keys without an identity; adopt lists that
    and the index names, and the SQL the README gives (from adopt's lines) reconciles them."""
    project = SwitchProject.create(tmp_path, pg_backend.new_url())
    project.append_pyproject(TORTOISE_MARCH_CONFIG)
    project.peer_ok(tortoise_march, "tortoisemarch", "makemigrations")
    project.peer_ok(tortoise_march, "tortoisemarch", "migrate")
    words = ("column id has no default in the database", *TORTOISE_MARCH_INDEXES)
    refused(project, "Tortoise March", "idx_author_name_9e9e67", "idx_book_title_84007d", *words)
    pg_backend.execute(project.database_url, "INSERT INTO author (id, name) VALUES (7, 'Bo')")
    for statement in RECONCILE_TORTOISE_MARCH:
        pg_backend.execute(project.database_url, statement)
    adopted(project, "Tortoise March", "1 migration(s) applied")
    script = (
        "from tortoise import Tortoise, run_async\nfrom settings import TORTOISE_ORM\n"
        "from shop.models import Author, Book\n"
        "async def main():\n    await Tortoise.init(config=TORTOISE_ORM)\n"
        "    author = await Author.create(name='Ann')\n"
        "    book = await Book.create(title='T', year=2001, author=author)\n"
        "    print(author.id, book.id)\n"
        "run_async(main())\n"
    )
    made = run_python(project.root, project.env(), script)
    assert made.returncode == 0 and made.stdout.split() == ["8", "1"], made.stderr
    our_next_migration(project, pg_backend)


def hand_made_tortoise_march(tmp_path: Path, backend: Backend, applied: int) -> SwitchProject:
    """Return a project whose database generate_schemas() built, with Tortoise March's recorder
    table made by hand holding the first ``applied`` of its two migration files."""
    project = SwitchProject.create(tmp_path, backend.new_url())
    project.append_pyproject(TORTOISE_MARCH_CONFIG)
    project.add_book_field(PEER_FIELD)
    project.generate_schemas()
    folder = project.root / "tm_migrations"
    folder.mkdir()
    (folder / "__init__.py").write_text("", encoding="utf-8")
    names = ["0001_initial", "0002_pages"]
    for name in names:
        (folder / f"{name}.py").write_text('"""A Tortoise March migration."""\n', "utf-8")
    serial, label, stamp = {
        "postgres": ("BIGSERIAL", "TEXT", "TIMESTAMPTZ NOT NULL DEFAULT NOW()"),
        "mysql": ("BIGINT AUTO_INCREMENT", "VARCHAR(255)", "DATETIME(6)"),
    }.get(backend.name, ("INTEGER", "TEXT", "TEXT"))
    backend.execute(
        project.database_url,
        f"CREATE TABLE {TORTOISE_MARCH_TABLE} (id {serial} PRIMARY KEY, name {label} NOT NULL "
        f"UNIQUE, checksum TEXT NOT NULL, applied_at {stamp})",
    )
    for name in names[:applied]:
        backend.execute(
            project.database_url,
            f"INSERT INTO {TORTOISE_MARCH_TABLE} (name, checksum, applied_at) "
            f"VALUES ('{name}', 'x', '2026-01-01')",
        )
    return project


def test_hand_made_tortoise_march_history_is_adopted(tmp_path: Path, backend: Backend) -> None:
    project = hand_made_tortoise_march(tmp_path, backend, applied=2)
    output = adopted(project, "Tortoise March", "2 migration(s) applied", "0002_pages")
    our_next_migration(project, backend)
    drop_old_table(project, backend, output, TORTOISE_MARCH_TABLE)


def test_hand_made_tortoise_march_unapplied_is_refused(tmp_path: Path, backend: Backend) -> None:
    project = hand_made_tortoise_march(tmp_path, backend, applied=1)
    refused(project, "tortoisemarch migrate", "0002_pages")
