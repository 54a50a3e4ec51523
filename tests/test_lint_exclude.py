"""``lint_exclude`` in ``[tool.tortoise_march_ext]``: rules silenced project-wide, through the CLI.

The example project's first migration has IntField primary keys (``int-pk-overflow``) on every
model; the key silences that rule in ``lint`` and in what makemigrations prints, while the other
rules keep firing, and a rule id that does not exist is one clear line naming the known ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cliproject import CliProject, assert_error, make_project, show
from tortoise_march_ext.lint import RULES

PYPROJECT = """[tool.tortoise_march_ext]
tortoise_orm = "settings.TORTOISE_ORM"
location = "migrations"
track = "meta"
{extra}
"""


@pytest.fixture
def project(tmp_path: Path) -> CliProject:
    return make_project(tmp_path)


def _with(project: CliProject, extra: str) -> CliProject:
    project.write_pyproject(PYPROJECT.format(extra=extra))
    return project


def _rules(project: CliProject, *args: str) -> tuple[int, set[str]]:
    result = project.run("lint", *args, "--format", "json")
    assert result.returncode in (0, 1), show(result)
    return result.returncode, {f["rule"] for f in json.loads(result.stdout)["findings"]}


def test_without_the_key_the_first_migration_has_int_pk_overflow(project: CliProject) -> None:
    made = project.ok("makemigrations")
    assert "int-pk-overflow" in made.stdout, show(made)
    assert _rules(project) == (1, {"int-pk-overflow"})


def test_excluded_rule_is_silenced_in_makemigrations_and_lint(project: CliProject) -> None:
    _with(project, 'lint_exclude = ["int-pk-overflow"]')
    made = project.ok("makemigrations")
    assert "int-pk-overflow" not in made.stdout, show(made)
    assert "!" not in made.stdout, show(made)
    clean = project.run("lint")
    assert clean.returncode == 0, show(clean)
    assert "0 finding(s)" in clean.stdout, show(clean)
    assert "int-pk-overflow" not in clean.stdout, show(clean)


def test_rules_not_excluded_keep_firing(project: CliProject) -> None:
    _with(project, 'lint_exclude = ["int-pk-overflow", "run-sql"]')
    project.ok("makemigrations")
    project.add_contact_field("score = fields.IntField(default=0, db_index=True)")
    made = project.ok("makemigrations")
    assert "! contacts.0002_contact_score[#0] index-without-concurrently" in made.stdout
    assert "int-pk-overflow" not in made.stdout, show(made)
    assert _rules(project) == (1, {"index-without-concurrently"})


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ('lint_exclude = ["int-pk-overflw"]', ("lint_exclude", "int-pk-overflw", "run-sql")),
        ('lint_exclude = "int-pk-overflow"', ("lint_exclude", "not a list of rule ids")),
        ("lint_exclude = [1]", ("lint_exclude = [1]", "not a list of rule ids")),
    ],
)
def test_a_bad_lint_exclude_is_one_clear_line(
    project: CliProject, extra: str, words: tuple[str, ...]
) -> None:
    _with(project, extra)
    for verb in ("lint", "makemigrations"):
        result = project.run(verb)
        assert_error(result, 2, *words)
    assert project.migration_names() == []


def test_the_unknown_id_line_names_every_known_rule(project: CliProject) -> None:
    _with(project, 'lint_exclude = ["nope"]')
    result = project.run("lint")
    for rule in RULES:
        assert rule in result.stderr, show(result)
