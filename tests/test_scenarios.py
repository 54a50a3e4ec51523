"""The correctness bar: makemigrations + migrate after each model version builds exactly the schema
``Tortoise.generate_schemas()`` builds, on SQLite, PostgreSQL and MySQL/MariaDB; rows survive;
zero and back work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import require_mysql, require_postgres
from tests.harness import Backend, Project, assert_same
from tests.scenarios import SCENARIOS, Scenario, Step
from tortoise_march_ext.autodetect.questioner import NoInputQuestioner, RenameHints

# What only PostgreSQL has (index methods, partial and covering indexes, exclusion constraints);
# every other scenario runs on MySQL/MariaDB too.
POSTGRES_ONLY = {"postgres_index_types"}


def _runs_on(scenario: Scenario, backend: str) -> bool:
    if backend == "mysql":
        return scenario.name not in POSTGRES_ONLY and (
            "mysql" in scenario.backends or "postgres" in scenario.backends
        )
    return backend in scenario.backends


CASES = [
    pytest.param(s, b, id=f"{s.name}-{b}")
    for s in SCENARIOS
    for b in ("sqlite", "postgres", "mysql")
    if _runs_on(s, b)
]


def _without(schema: dict[str, Any], names: tuple[str, ...]) -> tuple[dict[str, Any], set[str]]:
    """Remove the named uniques/checks; return the schema and the names that were found."""
    found: set[str] = set()
    for table in schema.values():
        for key in ("uniques", "checks"):
            kept = []
            for entry in table[key]:
                if entry[0] in names:
                    found.add(entry[0])
                else:
                    kept.append(entry)
            table[key] = kept
    return schema, found


def _check_step(project: Project, backend: Backend, step: Step, label: str) -> None:
    for sql, expected in step.expect.items():
        assert backend.execute(project.url, sql) == expected, f"{label}: {sql}"
    schema, found = _without(project.schema(), step.extra)
    assert found == set(step.extra), f"{label}: constraints missing: {set(step.extra) - found}"
    assert_same(schema, project.reference_schema(), label)
    # What hand-written SQL of the scenario adds (step.extra) is not in the migration state.
    found = [d for d in project.check_schema() if not any(n in d for n in step.extra)]
    assert found == [], f"{label}: check --schema found:\n" + "\n".join(found)


def _answers(scenario: Scenario) -> dict[str, Any]:
    """Return makemigrations' questioner for a scenario whose renames are given as flags."""
    if not scenario.rename_fields:
        return {}
    return {"questioner": NoInputQuestioner(RenameHints.parse(list(scenario.rename_fields), None))}


@pytest.mark.parametrize(("scenario", "backend_name"), CASES)
def test_scenario(scenario: Scenario, backend_name: str, tmp_path: Path) -> None:
    if backend_name == "postgres":
        require_postgres()
    if backend_name == "mysql":
        require_mysql()
    backend = Backend(backend_name, tmp_path)
    try:
        project = Project(tmp_path, backend)
        for number, step in enumerate(scenario.steps, start=1):
            label = f"{scenario.name} v{number} on {backend_name}"
            project.write_models(step.apps)
            made = project.makemigrations(**_answers(scenario))
            assert made.changed, f"{label}: makemigrations found nothing"
            again = project.makemigrations(**_answers(scenario))
            assert not again.changed, (
                f"{label}: second makemigrations wrote {[m.operations for m in again.migrations]}"
            )
            if number == len(scenario.steps) and scenario.last_operations:
                written = [op.describe() for m in made.migrations for op in m.operations]
                assert written == list(scenario.last_operations), label
            project.migrate()
            _check_step(project, backend, step, label)
            for sql in step.rows:
                backend.execute(project.url, sql)
        assert project.ruff() == ""
        for app in sorted(scenario.steps[-1].apps):
            project.migrate(app, "zero")
        assert project.schema() == {}, "migrate zero left tables behind"
        project.migrate()
        last = scenario.steps[-1]
        replayed = Step(last.apps, extra=last.extra)
        _check_step(project, backend, replayed, f"{scenario.name} replayed")
    finally:
        backend.cleanup()
