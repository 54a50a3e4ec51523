"""The pytest plugin (tortoise_march_ext.pytest), driven through pytester on new projects.

Each test writes a small project (a pyproject.toml, settings.py, one app, a conftest.py of one
line), writes its migrations with the real CLI and runs pytest on it in a subprocess, on SQLite,
PostgreSQL and MariaDB: migrated databases, isolation, sync/anyio/pytest-asyncio tests, the four
checks passing on a sound project and each failing on a project that breaks it, and cleanup.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncmy
import asyncpg
import pytest

from tests.conftest import (
    PG_HOST,
    _mysql_admin,
    _mysql_parts,
    drop_mysql_database,
    drop_pg_database,
    new_mysql_database,
    new_pg_database,
)
from tortoise_march_ext.config import load_config
from tortoise_march_ext.exceptions import ConfigError

pytest_plugins = ["pytester"]
# pytester forgets the modules a test imported; the database drivers' C extensions must not be
# imported twice in one process, so they are imported here, before any test.
DRIVERS = (asyncmy, asyncpg)

PYPROJECT = """\
[tool.tortoise_march_ext]
tortoise_orm = "settings.TORTOISE_ORM"
track = "all"
{extra}
[tool.pytest.ini_options]
asyncio_mode = "strict"
asyncio_default_fixture_loop_scope = "function"
{ini}
"""
SETTINGS = """\
TORTOISE_ORM = {{
    "connections": {{"default": {url!r}}},
    "apps": {{"shop": {{"models": ["shop.models"]}}}},
}}
"""
MODELS = """\
from tortoise import fields
from tortoise.models import Model


class Item(Model):
    id = fields.IntField(primary_key=True)
    name = fields.CharField(max_length=50)
{extra}
    class Meta:
        table = "item"


class Order(Model):
    id = fields.IntField(primary_key=True)
    item = fields.ForeignKeyField("shop.Item", related_name="orders")

    class Meta:
        table = "order"
"""
CONFTEST = 'pytest_plugins = ["tortoise_march_ext.pytest"]\n'
TESTS = """\
import pytest
from tortoise import Tortoise

from shop.models import Item, Order
from tortoise_march_ext.pytest import *


@pytest.fixture
def anyio_backend():
    return "asyncio"


def test_sync_writes(march_db):
    item = march_db.run(Item.create(name="sync"))
    march_db.run(Order.create(item=item))
    assert march_db.run(Item.all().count()) == 1


def test_sync_sees_nothing_of_the_last_test(march_db):
    assert march_db.run(Item.all().count()) == 0
    assert march_db.run(Order.all().count()) == 0
    march_db.run(Item.create(name="again"))
    assert march_db.run(Item.all().values_list("id", flat=True)) == [1]


@pytest.mark.anyio
async def test_anyio_writes(march_db):
    await Item.create(name="anyio")
    assert await Item.all().count() == 1


@pytest.mark.asyncio
async def test_asyncio_writes(march_db):
    assert await Item.all().count() == 0
    await Item.create(name="asyncio")
    assert [i.name for i in await Item.all()] == ["asyncio"]


def test_recorded_as_migrated(march_db):
    conn = Tortoise.get_connection("default")
    rows = march_db.run(conn.execute_query_dict("SELECT name FROM tortoise_march_migrations"))
    assert [r["name"] for r in rows] == ["0001_initial"]
"""
CHECKS = (
    "test_no_missing_migrations",
    "test_single_leaf_per_app",
    "test_migrations_up_down_up",
    "test_schema_matches_migrations",
)
MIGRATION = """\
from tortoise_march_ext import migrations


class Migration(migrations.Migration):
    dependencies = (("shop", "0001_initial"),)

    operations = ({operations},)
"""


class Project:
    """A new project in ``pytester.path`` on one backend."""

    def __init__(self, pytester: pytest.Pytester, backend: str, url: str) -> None:
        self.pytester = pytester
        self.backend = backend
        self.url = url
        self.root = pytester.path

    def write(self, *, extra: str = "", ini: str = "", conftest: str = CONFTEST) -> None:
        """Write the project and its initial migration."""
        (self.root / "pyproject.toml").write_text(PYPROJECT.format(extra=extra, ini=ini))
        (self.root / "settings.py").write_text(SETTINGS.format(url=self.url))
        (self.root / "shop").mkdir(exist_ok=True)
        (self.root / "shop" / "__init__.py").write_text("")
        self.models()
        (self.root / "conftest.py").write_text(conftest)
        (self.root / "test_shop.py").write_text(TESTS)
        done = subprocess.run(
            [sys.executable, "-m", "tortoise_march_ext", "makemigrations", "--noinput"],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def models(self, extra: str = "") -> None:
        """(Re)write shop/models.py with ``extra`` field lines."""
        (self.root / "shop" / "models.py").write_text(MODELS.format(extra=extra))

    def migration(self, name: str, operations: str) -> None:
        """Write migrations/shop/<name>.py after 0001_initial."""
        path = self.root / "migrations" / "shop" / f"{name}.py"
        path.write_text(MIGRATION.format(operations=operations))

    def run(self, *args: str) -> pytest.RunResult:
        """Run pytest on the project in a subprocess."""
        return self.pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=300)

    def leftovers(self) -> list[str]:
        """Return the test databases of this project still on the server."""
        name = self.url.rsplit("/", 1)[1]
        if self.backend == "postgres":
            return asyncio.run(_pg_names(f"test_{name}"))
        if self.backend == "mysql":
            return asyncio.run(_mysql_names(f"test_{name}"))
        return []


async def _pg_names(prefix: str) -> list[str]:
    conn = await asyncpg.connect(f"{PG_HOST}/postgres")
    try:
        rows = await conn.fetch(
            "SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix
        )
        return [r[0] for r in rows]
    finally:
        await conn.close()


async def _mysql_names(prefix: str) -> list[str]:
    conn = await asyncmy.connect(**_mysql_parts())
    try:
        async with conn.cursor() as cursor:
            await cursor.execute("SHOW DATABASES")
            return [r[0] for r in await cursor.fetchall() if str(r[0]).startswith(prefix)]
    finally:
        conn.close()


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def project(request: pytest.FixtureRequest, pytester: pytest.Pytester) -> Iterator[Project]:
    """Yield a new project on each backend (its app database is never created: the plugin
    only uses the derived test databases)."""
    if request.param == "sqlite":
        yield Project(pytester, "sqlite", "sqlite://app.sqlite3")
        return
    make, drop = (
        (new_pg_database, drop_pg_database)
        if request.param == "postgres"
        else (new_mysql_database, drop_mysql_database)
    )
    url = make()
    try:
        yield Project(pytester, request.param, url)
    finally:
        drop(url)


def test_new_project_gets_migrated_databases_and_the_checks_pass(project: Project) -> None:
    project.write()
    # Connections closed on the loop that opened them: Tortoise never has to swap a client.
    result = project.run("-v", "-W", "error::tortoise.warnings.TortoiseLoopSwitchWarning")
    result.assert_outcomes(passed=9)
    for check in CHECKS:
        result.stdout.fnmatch_lines([f"*::{check} PASSED*"])
    assert project.leftovers() == []
    assert not (project.root / "app.sqlite3").exists()  # the app's own database is untouched


def test_postgres_template_copies(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORTOISE_MARCH_TEST_DB", "template")
    url = new_pg_database()
    try:
        project = Project(pytester, "postgres", url)
        project.write()
        (project.root / "test_names.py").write_text(
            "def test_a_copy(march_db):\n"
            f"    assert march_db.names['default'] == 'test_{url.rsplit('/', 1)[1]}' + "
            "__import__('tortoise_march_ext.pytest.databases').pytest.databases.xdist_suffix()"
            " + '_1'\n"
        )
        project.run("-p", "no:randomly", "test_names.py", "test_shop.py").assert_outcomes(passed=10)
        assert project.leftovers() == []
    finally:
        drop_pg_database(url)


def test_bad_test_database_mode_is_one_line(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TORTOISE_MARCH_TEST_DB", "bogus")
    project = Project(pytester, "sqlite", "sqlite://app.sqlite3")
    project.write()
    result = project.run("-k", "test_sync_writes")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*TORTOISE_MARCH_TEST_DB='bogus'; use one of reset, template*"])


def test_missing_migration_fails_with_the_change_listed(project: Project) -> None:
    project.write()
    project.models("    price = fields.IntField(default=0)\n")
    result = project.run("-k", "test_no_missing_migrations")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*run `python -m tortoise_march_ext makemigrations`*", "*shop.Item: field price added*"]
    )


def test_two_leaves_fail_and_say_merge(pytester: pytest.Pytester) -> None:
    project = Project(pytester, "sqlite", "sqlite://app.sqlite3")
    project.write()
    project.migration("0002_left", 'migrations.RunSQL("SELECT 1", reverse_sql="SELECT 1")')
    project.migration("0002_right", 'migrations.RunSQL("SELECT 2", reverse_sql="SELECT 2")')
    result = project.run("-k", "test_single_leaf_per_app")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*app shop has 2 latest migrations (0002_left, 0002_right)*makemigrations --merge*"]
    )


def test_broken_down_migration_fails_the_stairway(project: Project) -> None:
    project.write()
    project.migration(
        "0002_extra", 'migrations.RunSQL("CREATE TABLE extra (id INT)", reverse_sql="SELECT 1")'
    )
    result = project.run("-k", "test_migrations_up_down_up")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*migration shop.0002_extra (*) failed to apply again*"])
    assert project.leftovers() == []


def test_irreversible_migration_is_skipped_by_name(pytester: pytest.Pytester) -> None:
    project = Project(pytester, "sqlite", "sqlite://app.sqlite3")
    project.write()
    project.migration("0002_seed", "migrations.RunSQL(\"INSERT INTO item (name) VALUES ('x')\")")
    result = project.run("-k", "test_migrations_up_down_up")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*irreversible migration(s) not unapplied: shop.0002_seed*"])


def test_table_changed_by_hand_fails_the_schema_check(project: Project) -> None:
    project.write()
    project.migration(
        "0002_by_hand",
        'migrations.RunSQL("ALTER TABLE item ADD COLUMN extra INT", '
        'reverse_sql="ALTER TABLE item DROP COLUMN extra")',
    )
    result = project.run("-k", "test_schema_matches_migrations")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*check --schema*", "*shop.Item: column extra is in the database only*"]
    )
    assert project.leftovers() == []


def test_rows_of_data_migrations_are_in_every_test(project: Project) -> None:
    project.write()
    project.migration(
        "0002_seed",
        "migrations.RunSQL(\"INSERT INTO item (name) VALUES ('seed')\", "
        "reverse_sql=\"DELETE FROM item WHERE name = 'seed'\")",
    )
    (project.root / "test_shop.py").write_text(
        "from shop.models import Item\n\n\n"
        "def test_one(march_db):\n"
        "    assert march_db.run(Item.all().values_list('name', flat=True)) == ['seed']\n"
        "    march_db.run(Item.filter(name='seed').delete())\n"
        "    march_db.run(Item.create(name='other'))\n\n\n"
        "def test_two(march_db):\n"
        "    assert march_db.run(Item.all().values_list('id', 'name')) == [(1, 'seed')]\n"
    )
    project.run().assert_outcomes(passed=2)


def test_xdist_workers_get_their_own_databases(project: Project) -> None:
    project.write()
    result = project.run("-n", "2")
    result.assert_outcomes(passed=9)
    assert project.leftovers() == []


def test_test_db_url_names_the_test_database(pytester: pytest.Pytester) -> None:
    url = new_pg_database()
    try:
        project = Project(pytester, "postgres", url)
        chosen = url.rsplit("/", 1)[1] + "_chosen"
        project.write(extra=f'test_db_url = "{PG_HOST}/{chosen}"')
        (project.root / "test_shop.py").write_text(
            "def test_name(march_db):\n"
            f"    assert march_db.names['default'].startswith({chosen!r})\n"
        )
        project.run().assert_outcomes(passed=1)
        assert asyncio.run(_pg_names(chosen)) == []
    finally:
        drop_pg_database(url)


def test_bad_test_db_url_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.tortoise_march_ext]\ntest_db_url = "nope"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(cwd=tmp_path)
    message = str(caught.value)
    assert "test_db_url = 'nope' is not a database URL" in message and "\n" not in message


def test_entry_point_changes_nothing_without_opt_in(pytester: pytest.Pytester) -> None:
    project = Project(pytester, "sqlite", "sqlite://app.sqlite3")
    project.write(conftest="")
    (project.root / "test_shop.py").write_text(
        "import sys\n\n\n"
        "def test_not_loaded():\n"
        "    assert 'tortoise_march_ext' not in sys.modules\n\n\n"
        "def test_no_fixture(march_db):\n"
        "    pass\n"
    )
    result = project.run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'march_db' not found*"])


def test_ini_option_opts_in(pytester: pytest.Pytester) -> None:
    project = Project(pytester, "sqlite", "sqlite://app.sqlite3")
    project.write(conftest="", ini="tortoise_march_ext = true")
    project.run().assert_outcomes(passed=9)


def test_mysql_reset_keeps_other_databases(pytester: pytest.Pytester) -> None:
    url = new_mysql_database()
    try:
        asyncio.run(_mysql_admin(f"CREATE TABLE `{url.rsplit('/', 1)[1]}`.keep (id INT)"))
        project = Project(pytester, "mysql", url)
        project.write()
        project.run().assert_outcomes(passed=9)
        assert project.leftovers() == []
        assert asyncio.run(_mysql_names(url.rsplit("/", 1)[1])) == [url.rsplit("/", 1)[1]]
    finally:
        drop_mysql_database(url)
