"""``optimizemigration APP NAME [--check]`` through the real CLI on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cliproject import CliProject, assert_error, show
from tests.test_cli_habits import _project

HAND = '''\
"""Add field nickname to Contact, and more."""

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


def fill(apps, connection):
    """Kept as written."""  # a comment that must survive


class Migration(migrations.Migration):
    dependencies = (("contacts", "0001_initial"),)

    operations = (
        migrations.RunPython(fill),
        migrations.AddField(
            model="Contact",
            name="nickname",
            field=fields.CharField(max_length=40, default=""),
        ),
        migrations.AlterField(
            model="Contact",
            name="nickname",
            field=fields.CharField(max_length=60, default=""),
        ),
    )
'''

GONE = '''\
"""Create model Temp, and more.

- Create model Temp
- Delete model Temp
"""

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


class Migration(migrations.Migration):
    dependencies = (("contacts", "0001_initial"),)

    operations = (
        migrations.CreateModel(
            name="Temp",
            table="temp",
            fields=[("id", fields.IntField(primary_key=True))],
        ),
        migrations.DeleteModel(name="Temp"),
    )
'''


@pytest.fixture(params=["sqlite", "postgres"])
def project(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CliProject]:
    """The example project with 0001_initial written, on SQLite, then on PostgreSQL."""
    for made in _project(tmp_path, request.param):
        made.ok("makemigrations")
        yield made


def ruff_problems(path: Path) -> list[str]:
    problems = []
    for args in (["check"], ["check", "--isolated"], ["format", "--check"]):
        run = subprocess.run(
            [sys.executable, "-m", "ruff", *args, str(path)],
            capture_output=True,
            text=True,
            check=False,
        )
        if run.returncode:
            problems.append(f"ruff {' '.join(args)}: {run.stdout}{run.stderr}")
    return problems


def test_optimizemigration_check_then_rewrite(project: CliProject) -> None:
    path = project.write_migration("0002_nickname", HAND)
    result = project.run("optimizemigration", "contacts", "0002", "--check")
    assert result.returncode == 1, show(result)
    assert "from 3 operation(s) to 2" in result.stdout and "would change" in result.stdout
    assert path.read_text() == HAND, "--check writes nothing"

    result = project.ok("optimizemigration", "contacts", "0002_nickname")
    assert "Optimized migration migrations/contacts/0002_nickname.py" in result.stdout
    text = path.read_text()
    assert "AlterField" not in text and "max_length=60" in text, text
    assert "# a comment that must survive" in text and "migrations.RunPython(fill)" in text
    assert ruff_problems(path) == []

    again = project.ok("optimizemigration", "contacts:0002")
    assert "No optimizations possible" in again.stdout, show(again)
    assert path.read_text() == text

    project.ok("migrate")
    assert project.recorded() == ["0001_initial", "0002_nickname"]
    assert "nickname" in project.snapshot().tables["contact"]


def test_optimizemigration_drops_imports_it_no_longer_needs(project: CliProject) -> None:
    path = project.write_migration("0002_temp", GONE)
    project.ok("optimizemigration", "contacts", "0002")
    text = path.read_text()
    assert "operations = ()" in text, text
    assert "import fields" not in text and "Empty migration" in text, text
    assert ruff_problems(path) == []
    project.ok("migrate")
    assert "temp" not in project.tables()


def test_optimizemigration_refuses_an_applied_migration(project: CliProject) -> None:
    path = project.write_migration("0002_nickname", HAND)
    project.ok("migrate")
    before = project.snapshot()
    result = project.run("optimizemigration", "contacts", "0002")
    assert_error(result, 2, "contacts.0002_nickname", "applied", "unapply it first")
    assert path.read_text() == HAND
    assert project.snapshot() == before
    assert_error(project.run("optimizemigration", "contacts"), 2, "APP NAME")
    assert_error(project.run("optimizemigration", "contacts", "0009"), 2, "0009")
