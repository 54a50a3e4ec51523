"""Callable defaults (``default=dict``, ``uuid.uuid4``, a module-level function): kept by import
path in the state and the files, and filling existing rows with one call each when migrating."""

from __future__ import annotations

import asyncio
import datetime
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import libcst as cst
import pytest

from tests.cliproject import CliProject, make_project, show
from tortoise_march_ext.exceptions import StateError
from tortoise_march_ext.files.serializer import Imports, serialize
from tortoise_march_ext.schema import fields
from tortoise_march_ext.schema.plain import value_from_plain, value_to_plain
from tortoise_march_ext.schema.state import CallableRef, callable_ref

UTILS = '''"""Helpers of the contacts app."""

import secrets


def make_code() -> str:
    return secrets.token_hex(4)
'''
HEADER = "from tortoise import fields\n"
IMPORTS = "import datetime\nimport uuid\n\nfrom contacts.utils import make_code\n"


def _local() -> Any:
    def inner() -> int:
        return 1

    return inner


class _Holder:
    def method(self) -> int:
        return 1


# -- the reference ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "path"),
    [
        (dict, "dict"),
        (list, "list"),
        (uuid.uuid4, "uuid.uuid4"),
        (datetime.datetime.now, "datetime.datetime.now"),
        (datetime.date.today, "datetime.date.today"),
    ],
)
def test_importable_callables_are_kept_by_path(value: Any, path: str) -> None:
    ref = callable_ref(value)
    assert ref.referable
    assert ref.path == path
    assert ref.resolve() == value


@pytest.mark.parametrize(
    "value",
    [lambda: 1, _local(), _Holder().method],
    ids=["lambda", "local-function", "bound-method"],
)
def test_callables_a_file_cannot_name_are_not_referable(value: Any) -> None:
    assert not callable_ref(value).referable
    with pytest.raises(StateError, match="module-level function"):
        fields.IntField(default=value)


def test_a_migration_file_field_keeps_the_reference_as_plain_data() -> None:
    field = fields.UUIDField(default=uuid.uuid4, unique=True)
    assert field.default == CallableRef("uuid", "uuid4")
    assert value_from_plain(value_to_plain(field.default)) == field.default


def test_the_serializer_writes_the_callable_with_its_import() -> None:
    imports = Imports()
    node = serialize(fields.JSONField(default=dict), imports)
    assert cst.Module([]).code_for_node(node) == "fields.JSONField(default=dict)"
    node = serialize(fields.DatetimeField(default=datetime.datetime.now), imports)
    assert (
        cst.Module([]).code_for_node(node) == "fields.DatetimeField(default=datetime.datetime.now)"
    )
    assert imports.modules == {"datetime"}


def test_a_default_that_no_longer_imports_says_which_path() -> None:
    with pytest.raises(StateError, match=r"default contacts\.gone\.make does not import"):
        CallableRef("contacts.gone", "make").resolve()


# -- through the CLI, on both backends -----------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> CliProject:
    """The example project with 0001_initial applied and three contacts."""
    url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    project = make_project(tmp_path, url)
    (project.root / "contacts" / "utils.py").write_text(UTILS, encoding="utf-8")
    project.ok("makemigrations")
    project.ok("migrate")
    _query(
        project,
        "INSERT INTO contact (name, email, created_at) VALUES "
        + ", ".join(f"('{n}', '', CURRENT_TIMESTAMP)" for n in "abc"),
    )
    return project


def _query(project: CliProject, sql: str) -> list[tuple[Any, ...]]:
    if project.is_postgres:
        return asyncio.run(_pg_query(project.database_url, sql))
    conn = sqlite3.connect(project.sqlite_path)
    try:
        rows = [tuple(r) for r in conn.execute(sql)]
        conn.commit()
        return rows
    finally:
        conn.close()


async def _pg_query(url: str, sql: str) -> list[tuple[Any, ...]]:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        return [tuple(r) for r in await conn.fetch(sql)]
    finally:
        await conn.close()


def _add_fields(project: CliProject, *lines: str) -> None:
    project.replace_in(project.models_py, HEADER, IMPORTS + HEADER)
    for line in lines:
        project.add_contact_field(line)


def _new_migration(project: CliProject, before: list[str]) -> str:
    (name,) = sorted(set(project.migration_names()) - set(before))
    return (project.migrations / name).read_text(encoding="utf-8")


def _ruff(path: Path, cwd: Path) -> list[str]:
    """Return ruff's complaints about ``path``, run from the project as its users run it."""
    problems = []
    for args in (
        ["check", "--quiet"],
        ["check", "--isolated", "--quiet"],
        ["format", "--check", "--quiet"],
    ):
        proc = subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(path)],
            capture_output=True,
            text=True,
            check=False,
            cwd=cwd,
        )
        if proc.returncode:
            problems.append(proc.stdout + proc.stderr)
    return problems


def test_callable_defaults_need_no_question_and_fill_each_row(project: CliProject) -> None:
    before = project.migration_names()
    _add_fields(
        project,
        "attrs = fields.JSONField(default=dict)",
        "key = fields.UUIDField(default=uuid.uuid4, unique=True)",
        "seen = fields.DatetimeField(default=datetime.datetime.now)",
        "code = fields.CharField(max_length=8, default=make_code, unique=True)",
    )
    made = project.run("makemigrations", "--noinput")
    assert made.returncode == 0, show(made)
    text = _new_migration(project, before)
    for written in (
        "default=dict",
        "default=uuid.uuid4",
        "default=datetime.datetime.now",
        "default=contacts.utils.make_code",
        "import contacts.utils\n",
        "import uuid\n",
        "import datetime\n",
    ):
        assert written in text, text
    assert _ruff(project.migrations, project.root) == []
    project.ok("migrate")
    assert _query(
        project,
        "SELECT COUNT(*), COUNT(DISTINCT key), COUNT(DISTINCT code), COUNT(seen) FROM contact "
        "WHERE CAST(attrs AS TEXT) = '{}'",
    ) == [(3, 3, 3, 3)]
    assert project.run("makemigrations", "--check").returncode == 0
    project.ok("migrate", "contacts", "0001")
    project.ok("migrate")
    assert _query(project, "SELECT COUNT(DISTINCT key) FROM contact") == [(3,)]


def test_rows_beyond_one_batch_and_a_restored_column_get_one_call_each(
    project: CliProject,
) -> None:
    _query(
        project,
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1200) "
        "INSERT INTO contact (name, email, created_at) "
        "SELECT 'bulk' || CAST(i AS TEXT), '', CURRENT_TIMESTAMP FROM n",
    )
    _add_fields(project, "key = fields.UUIDField(default=uuid.uuid4, unique=True)")
    project.ok("makemigrations", "--noinput", "--name", "key")
    sql = project.ok("sqlmigrate", "contacts", "0002_key").stdout
    assert "uuid.uuid4(), one call per row" in sql, sql
    project.ok("migrate")
    assert _query(project, "SELECT COUNT(DISTINCT key) FROM contact") == [(1203,)]
    project.replace_in(
        project.models_py, "    key = fields.UUIDField(default=uuid.uuid4, unique=True)\n", ""
    )
    project.ok("makemigrations", "--noinput", "--name", "drop_key")
    project.ok("migrate")
    project.ok("migrate", "contacts", "0002")
    assert _query(project, "SELECT COUNT(*), COUNT(DISTINCT key) FROM contact") == [(1203, 1203)]


def test_a_lambda_default_is_refused_in_one_line(project: CliProject) -> None:
    before = project.files()
    project.add_contact_field("rank = fields.IntField(default=lambda: 1)")
    result = project.run("makemigrations", "--noinput")
    assert result.returncode == 2, show(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, show(result)
    assert "contacts.Contact.rank" in lines[0] and "module-level function" in lines[0]
    assert project.files() == before


def test_a_one_off_value_overrides_a_lambda_default(project: CliProject) -> None:
    before = project.migration_names()
    project.add_contact_field("rank = fields.IntField(default=lambda: 1)")
    result = project.answer("1\n7\n", "makemigrations")
    assert result.returncode == 0, show(result)
    assert "module-level function" in result.stdout, show(result)
    text = _new_migration(project, before)
    assert "fill=7" in text and "lambda" not in text, text
    project.ok("migrate")
    assert _query(project, "SELECT DISTINCT rank FROM contact") == [(7,)]
    assert project.run("makemigrations", "--check").returncode == 0
    assert project.run("check").returncode == 0


def test_a_field_made_not_null_with_a_lambda_default_asks_for_a_value(
    project: CliProject,
) -> None:
    project.add_contact_field("rank = fields.IntField(null=True)")
    project.ok("makemigrations", "--noinput")
    project.replace_in(
        project.models_py, "fields.IntField(null=True)", "fields.IntField(default=lambda: 1)"
    )
    before = project.files()
    result = project.run("makemigrations", "--noinput")
    assert result.returncode == 2, show(result)
    assert "contacts.Contact.rank" in result.stderr and "module-level" in result.stderr
    assert project.files() == before


def test_a_default_gone_at_migrate_time_is_one_line_and_changes_nothing(
    project: CliProject,
) -> None:
    before = project.migration_names()
    _add_fields(project, "code = fields.CharField(max_length=8, default=make_code)")
    project.ok("makemigrations", "--noinput")
    (name,) = sorted(set(project.migration_names()) - set(before))
    utils = project.root / "contacts" / "utils.py"
    utils.write_text(UTILS.replace("make_code", "make"), encoding="utf-8")
    project.replace_in(project.models_py, "from contacts.utils import make_code\n", "")
    project.replace_in(project.models_py, "default=make_code", 'default=""')
    result = project.run("migrate")
    assert result.returncode == 2, show(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and "make_code" in lines[0], show(result)
    assert project.recorded() == ["0001_initial"]
    assert "code" not in project.snapshot().tables["contact"]
