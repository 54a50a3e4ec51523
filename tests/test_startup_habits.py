"""Start-up habits: what ``MigrationReport.pending`` means, and how the drift warning goes out."""

from __future__ import annotations

import asyncio

import tortoise_march_ext as march
from tests.harness import Project
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
