"""A failing migration keeps nothing: schema, rows and recorder stay as they were."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_postgres
from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext.exceptions import MigrationFailed

V1 = models(model("Person", f"{ID}\nname = fields.CharField(max_length=50)"))
V2 = models(
    model(
        "Person",
        f"{ID}\nname = fields.CharField(max_length=80)\nage = fields.IntField()",
    )
)


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_failed_rebuild_or_alter_keeps_schema_rows_and_recorder(
    backend_name: str, tmp_path: Path
) -> None:
    if backend_name == "postgres":
        require_postgres()
    backend = Backend(backend_name, tmp_path)
    try:
        project = Project(tmp_path, backend)
        project.write_models({"app": V1})
        project.makemigrations()
        project.migrate()
        backend.execute(project.url, "INSERT INTO person (name) VALUES ('kept')")
        before = project.schema()
        recorded = backend.execute(project.url, "SELECT name FROM tortoise_march_migrations")

        project.write_models({"app": V2})
        project.makemigrations()
        with pytest.raises(MigrationFailed, match="0002"):
            project.migrate()

        assert project.schema() == before
        assert backend.execute(project.url, "SELECT name FROM person") == [("kept",)]
        recorder = "SELECT name FROM tortoise_march_migrations"
        assert backend.execute(project.url, recorder) == recorded
    finally:
        backend.cleanup()
