"""Scenarios whose makemigrations asks questions (renames): the same correctness bar as
``test_scenarios``, with the answers given as rename flags, and only the asked-for operations
written."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.test_scenarios as plain
from tests.conftest import require_postgres
from tests.harness import Backend, Project
from tests.scenarios import ANSWERED_SCENARIOS, AnsweredScenario, Step
from tortoise_march_ext.autodetect.questioner import NoInputQuestioner, RenameHints

CASES = [
    pytest.param(s, b, id=f"{s.name}-{b}")
    for s in ANSWERED_SCENARIOS
    for b in ("sqlite", "postgres")
    if b in s.backends
]


def _questioner(scenario: AnsweredScenario) -> NoInputQuestioner:
    return NoInputQuestioner(RenameHints.parse(list(scenario.rename_fields), None))


@pytest.mark.parametrize(("scenario", "backend_name"), CASES)
def test_answered_scenario(scenario: AnsweredScenario, backend_name: str, tmp_path: Path) -> None:
    if backend_name == "postgres":
        require_postgres()
    backend = Backend(backend_name, tmp_path)
    try:
        project = Project(tmp_path, backend)
        for number, step in enumerate(scenario.steps, start=1):
            label = f"{scenario.name} v{number} on {backend_name}"
            project.write_models(step.apps)
            made = project.makemigrations(questioner=_questioner(scenario))
            assert made.changed, f"{label}: makemigrations found nothing"
            again = project.makemigrations(questioner=_questioner(scenario))
            assert not again.changed, f"{label}: second makemigrations wrote more"
            if number == len(scenario.steps) and scenario.last_operations:
                written = [op.describe() for m in made.migrations for op in m.operations]
                assert written == list(scenario.last_operations), label
            project.migrate()
            plain._check_step(project, backend, step, label)
            for sql in step.rows:
                backend.execute(project.url, sql)
        assert project.ruff() == ""
        for app in sorted(scenario.steps[-1].apps):
            project.migrate(app, "zero")
        assert project.schema() == {}, "migrate zero left tables behind"
        project.migrate()
        last = scenario.steps[-1]
        plain._check_step(project, backend, Step(last.apps, extra=last.extra), "replayed")
    finally:
        backend.cleanup()
