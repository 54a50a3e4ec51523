"""Start-up habits: what ``MigrationReport.pending`` means, and how the drift warning goes out."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

import tortoise_march_ext as march
from tests.cliproject import TIMEOUT, CliProject, make_project, show
from tests.harness import Project
from tests.test_late_init import app, line_of, run_app  # noqa: F401 - the fixture
from tests.test_runtime import V2, in_tortoise, project  # noqa: F401 - the fixture
from tortoise_march_ext.config import load_config


def _two_migrations(proj: Project) -> None:
    proj.write_models({"app": V2})
    proj.makemigrations()


def test_report_pending_lists_what_is_left_after_a_target(project: Project) -> None:  # noqa: F811
    _two_migrations(project)
    second = next((project.tmp / "migrations" / "app").glob("0002_*.py")).stem

    report = in_tortoise(project, lambda: march.ensure_migrated(target="app.0001"), check=False)
    assert report.applied == ["app.0001_initial"]
    assert report.pending == [f"app.{second}"]

    again = in_tortoise(project, lambda: march.ensure_migrated(target="app.0001"), check=False)
    assert again.applied == [] and again.pending == [f"app.{second}"]

    last = in_tortoise(project, march.ensure_migrated, check=False)
    assert last.applied == [f"app.{second}"]
    assert last.pending == []
    assert in_tortoise(project, march.ensure_migrated, check=False) == march.MigrationReport()


def test_lifespan_report_has_nothing_pending_after_migrating(project: Project) -> None:  # noqa: F811
    async def run() -> march.MigrationReport:
        config = load_config(tortoise_config=project.tortoise_config())
        async with march.lifespan(config) as report:
            return report

    report = asyncio.run(run())
    assert report.applied == ["app.0001_initial"]
    assert report.pending == []
    assert report.changed


# -- the drift warning ---------------------------------------------------------------------------
REGISTERED = """\
import asyncio

import tortoise_march_ext  # noqa: F401 - the wrapper is in place before the first init
from tortoise.contrib.fastapi import RegisterTortoise

from settings import TORTOISE_ORM


async def main() -> None:
    async with RegisterTortoise(config=TORTOISE_ORM):  # the app's init
        pass
    print("app done", flush=True)


asyncio.run(main())
"""


def _script(made: CliProject, source: str, **env: str) -> subprocess.CompletedProcess[str]:
    (made.root / "registered.py").write_text(source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "registered.py"],
        cwd=made.root,
        env=made.env(**env),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def _said(result: subprocess.CompletedProcess[str], words: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if words in line]


@pytest.fixture
def drifted(tmp_path: Path) -> CliProject:
    """The example project with its migrations, and a field the migrations lack."""
    made = make_project(tmp_path)
    made.ok("makemigrations")
    made.add_contact_field("phone = fields.CharField(max_length=20, null=True)")
    return made


def test_drift_warning_goes_out_once_at_the_apps_line(drifted: CliProject) -> None:
    result = _script(drifted, REGISTERED)
    assert result.returncode == 0 and "app done" in result.stdout, show(result)
    (line,) = _said(result, "field phone added")
    number = next(n for n, text in enumerate(REGISTERED.splitlines(), 1) if "app's init" in text)
    assert line.startswith(f"{drifted.root / 'registered.py'}:{number}: MarchDriftWarning"), line


def test_on_drift_log_logs_once_and_warns_nothing(drifted: CliProject) -> None:
    result = _script(drifted, REGISTERED, TORTOISE_MARCH_ON_DRIFT="log")
    assert result.returncode == 0 and "app done" in result.stdout, show(result)
    (line,) = _said(result, "field phone added")
    assert "MarchDriftWarning" not in result.stderr, show(result)
    assert line.startswith("models differ from the migration files"), line


def test_on_drift_log_records_point_at_the_apps_line(drifted: CliProject) -> None:
    logged = REGISTERED.replace(
        "import asyncio\n",
        "import asyncio\nimport logging\n\n"
        'logging.basicConfig(format="%(pathname)s:%(lineno)d %(name)s %(message)s")\n',
    )
    result = _script(drifted, logged, TORTOISE_MARCH_ON_DRIFT="log")
    assert result.returncode == 0, show(result)
    (line,) = _said(result, "field phone added")
    number = next(n for n, text in enumerate(logged.splitlines(), 1) if "app's init" in text)
    assert line.startswith(f"{drifted.root / 'registered.py'}:{number} tortoise_march_ext "), line


def test_pending_warning_of_a_late_check_points_at_the_apps_init(
    app: CliProject,  # noqa: F811
) -> None:
    pyproject = app.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "drift_check_database = true\n")
    result = run_app(app, 0, "wait")
    assert result.returncode == 0, show(result)
    (line,) = _said(result, "migrations pending in the database")
    assert line.startswith(f"{app.root / 'app.py'}:{line_of('the first init')}:"), line
