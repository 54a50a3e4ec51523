"""``check`` (CLI and ``march.check()``): it never reports "no drift" while tracking nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import tortoise_march_ext as march
from tests.cliproject import CliProject, make_project, show
from tortoise_march_ext.exceptions import ConfigError


def untrack(project: CliProject) -> None:
    text = project.models_py.read_text(encoding="utf-8")
    assert "class Meta(march.Meta):" in text
    project.models_py.write_text(text.replace("class Meta(march.Meta):", "class Meta:"))


def test_check_with_nothing_tracked_exits_2_with_the_opt_in_hint(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    untrack(project)
    result = project.run("check")
    assert result.returncode == 2, show(result)
    assert "No drift" not in result.stdout, show(result)
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: No tracked models."), show(result)
    assert "class Meta(march.Meta)" in line and 'track = "all"' in line, show(result)
    assert project.run("check", "--database").returncode == 2


def test_check_with_migrations_but_no_tracked_models_reports_the_drift(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    project.ok("makemigrations")
    untrack(project)
    result = project.run("check")
    assert result.returncode == 1, show(result)
    assert "contacts.Contact: model removed" in result.stdout, show(result)


def test_check_with_models_tracked_and_no_migrations_reports_the_drift(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    result = project.run("check")
    assert result.returncode == 1, show(result)
    assert "contacts.Contact: model added" in result.stdout, show(result)


def test_march_check_before_tortoise_init_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"Tortoise is not initialised.*Tortoise\.init"):
        asyncio.run(march.check())


def test_a_drift_report_is_true_when_drifted() -> None:
    assert not march.DriftReport()
    assert march.DriftReport(["app.Person: field email added"])
    assert march.DriftReport(pending=["app.0001_initial"])
