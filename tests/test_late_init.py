"""The drift check of a ``Tortoise.init`` that itself imports tortoise_march_ext (real processes).

The app below names its models only in the config dict, as Tortoise's own docs do, and never
imports tortoise_march_ext: the models module does, while ``Tortoise.init`` imports it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cliproject import TIMEOUT, CliProject, make_project, show

APP = """\
import asyncio
import sys

from tortoise import Tortoise

from settings import TORTOISE_ORM


async def main() -> None:
    assert "tortoise_march_ext" not in sys.modules, "the app must not import it itself"
    await Tortoise.init(config=TORTOISE_ORM)  # the first init
    print("init returned", "tortoise_march_ext" in sys.modules, flush=True)
    if sys.argv[2:] == ["wait"]:  # let what the init started finish before closing
        await asyncio.gather(*(t for t in asyncio.all_tasks() if t is not asyncio.current_task()))
    await Tortoise.close_connections()
    for _ in range(int(sys.argv[1])):
        await Tortoise.init(config=TORTOISE_ORM)  # later inits go through the wrapper
        await Tortoise.close_connections()
    print("app done", flush=True)


asyncio.run(main())
"""


@pytest.fixture
def app(tmp_path: Path) -> CliProject:
    """The example project with its migrations written and the app script above."""
    project = make_project(tmp_path)
    project.ok("makemigrations")
    (project.root / "app.py").write_text(APP, encoding="utf-8")
    return project


def run_app(
    project: CliProject, more_inits: int = 0, *extra: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "always::UserWarning", "app.py", str(more_inits), *extra],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def line_of(comment: str) -> int:
    return next(n for n, line in enumerate(APP.splitlines(), 1) if comment in line)


def drift_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if "MarchDriftWarning" in line]


def test_no_warning_when_nothing_drifted(app: CliProject) -> None:
    result = run_app(app, more_inits=1)
    assert result.returncode == 0, show(result)
    assert "init returned True" in result.stdout
    assert drift_lines(result) == [], show(result)


def test_the_first_init_warns_at_the_apps_call(app: CliProject) -> None:
    app.add_contact_field("phone = fields.CharField(max_length=20, null=True)")
    result = run_app(app)
    assert result.returncode == 0, show(result)
    (line,) = drift_lines(result)
    assert "contacts.Contact: field phone added" in line
    assert line.startswith(f"{app.root / 'app.py'}:{line_of('the first init')}:"), line
    assert "init returned True" in result.stdout


def test_every_init_warns_once(app: CliProject) -> None:
    app.add_contact_field("phone = fields.CharField(max_length=20, null=True)")
    result = run_app(app, more_inits=2)
    assert result.returncode == 0, show(result)
    lines = drift_lines(result)
    assert len(lines) == 3, show(result)
    first, later = line_of("the first init"), line_of("later inits")
    assert [line.split(":")[1] for line in lines] == [str(first), str(later), str(later)]


def test_on_drift_error_fails_the_first_init(app: CliProject) -> None:
    app.add_contact_field("phone = fields.CharField(max_length=20, null=True)")
    result = subprocess.run(
        [sys.executable, "app.py", "0"],
        cwd=app.root,
        env=app.env(TORTOISE_MARCH_ON_DRIFT="error"),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 1, show(result)
    assert "MarchDriftError" in result.stderr and "field phone added" in result.stderr
    assert "init returned" not in result.stdout


def test_a_broken_migration_file_does_not_break_the_first_init(app: CliProject) -> None:
    app.write_migration("0002_broken", "class Migration(:\n")
    result = run_app(app)
    assert result.returncode == 0, show(result)
    (line,) = drift_lines(result)
    assert "drift check skipped" in line and "0002_broken.py" in line
    assert "app done" in result.stdout


def test_pending_migrations_are_reported_after_the_first_init(app: CliProject) -> None:
    pyproject = app.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "drift_check_database = true\n")
    result = run_app(app, 0, "wait")
    assert result.returncode == 0, show(result)
    (line,) = drift_lines(result)
    assert "migrations pending in the database: contacts.0001_initial" in line, show(result)
    app.ok("migrate")
    result = run_app(app, 1, "wait")
    assert result.returncode == 0, show(result)
    assert drift_lines(result) == [], show(result)
