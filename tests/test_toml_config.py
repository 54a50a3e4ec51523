"""``.tortoise_march_ext.toml``: the config without pyproject.toml, through the real CLI.

The same keys as ``[tool.tortoise_march_ext]``, at the top level; found by walking up from the
current directory; in one folder it wins over pyproject.toml; a file in a nearer folder wins.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.cliproject import TIMEOUT, CliProject, error_problems, make_project, show
from tests.test_vendored import INCLUDE, vendored_project

OWN = ".tortoise_march_ext.toml"
KEYS = 'tortoise_orm = "settings.TORTOISE_ORM"\nlocation = "migrations"\ntrack = "meta"\n'
SECTION = "[tool.tortoise_march_ext]\n"


def toml_only(tmp_path: Path) -> CliProject:
    """Return the example project configured by .tortoise_march_ext.toml alone."""
    project = make_project(tmp_path)
    (project.root / "pyproject.toml").unlink()
    (project.root / OWN).write_text(KEYS, encoding="utf-8")
    return project


def run_in(project: CliProject, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI with ``folder`` as the current directory."""
    return subprocess.run(
        [sys.executable, "-m", "tortoise_march_ext", *args],
        cwd=folder,
        env=project.env(),
        input="",
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_toml_only_project_runs_end_to_end(tmp_path: Path) -> None:
    project = toml_only(tmp_path)
    result = project.ok("makemigrations")
    assert project.migration_names() == ["0001_initial.py"], show(result)
    project.ok("migrate")
    assert "contact" in project.tables()
    assert [name for _, name, _ in project.snapshot().recorded] == ["0001_initial"]


def test_toml_config_is_found_from_a_subfolder(tmp_path: Path) -> None:
    project = toml_only(tmp_path)
    result = run_in(project, project.root / "contacts", "makemigrations")
    assert result.returncode == 0, show(result)
    assert project.migration_names() == ["0001_initial.py"], show(result)


def test_toml_wins_over_pyproject_in_the_same_folder(tmp_path: Path) -> None:
    project = toml_only(tmp_path)
    project.write_pyproject(SECTION + KEYS.replace('"migrations"', '"elsewhere"'))
    project.ok("makemigrations")
    assert project.migration_names() == ["0001_initial.py"]
    assert not (project.root / "elsewhere").exists()


def test_a_nearer_pyproject_wins_over_a_farther_toml(tmp_path: Path) -> None:
    project = make_project(tmp_path)
    # the farther file would be an error if it were read
    (tmp_path / OWN).write_text("not_a_key = 1\n", encoding="utf-8")
    project.ok("makemigrations")
    assert project.migration_names() == ["0001_initial.py"]


def test_a_nearer_toml_wins_over_a_farther_pyproject(tmp_path: Path) -> None:
    project = toml_only(tmp_path)
    (tmp_path / "pyproject.toml").write_text(SECTION + "not_a_key = 1\n", encoding="utf-8")
    project.ok("makemigrations")
    assert project.migration_names() == ["0001_initial.py"]


def test_vendored_apps_from_the_toml_config(tmp_path: Path) -> None:
    project = vendored_project(tmp_path)
    (project.root / "pyproject.toml").unlink()
    (project.root / OWN).write_text(KEYS + INCLUDE, encoding="utf-8")
    result = project.ok("migrate")
    assert "Apply billing:0001_initial... Done" in result.stdout, show(result)
    assert "billing_invoice" in project.tables()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param(SECTION + KEYS, [OWN, "unknown key(s) tool", "top level"], id="section"),
        pytest.param(KEYS + "colour = 'red'\n", [OWN, "colour"], id="unknown-key"),
        pytest.param("tortoise_orm = \n", [OWN, "invalid TOML"], id="invalid"),
        pytest.param(KEYS + "track = 3\n", [OWN, "invalid TOML", "line 4"], id="duplicate-key"),
        pytest.param(KEYS.replace('"meta"', "3"), [OWN, "track must be a string"], id="type"),
    ],
)
def test_bad_toml_config(tmp_path: Path, text: str, words: list[str]) -> None:
    project = toml_only(tmp_path)
    (project.root / OWN).write_text(text, encoding="utf-8")
    result = project.run("makemigrations")
    problems = error_problems(result, 2, *words)
    assert not problems, problems + [show(result)]
    assert project.migration_names() == []
