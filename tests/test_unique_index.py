"""``unique=True`` with ``db_index=True``: both options stay in the state and the file.

``generate_schemas()`` builds the UNIQUE constraint and a separate ``idx_`` index for such a
field (and for a OneToOneField with an index); the scenarios in tests/scenarios.py compare the
schemas, this checks that the migration file says what the user wrote.
"""

from __future__ import annotations

from pathlib import Path

from tests.harness import Backend, Project
from tests.scenarios import ID, PERSON, model, models
from tortoise_march_ext.files.loader import load_migrations
from tortoise_march_ext.schema import fields

BADGE = model(
    "Badge",
    f"{ID}\ncode = fields.CharField(max_length=20, unique=True, db_index=True)\n"
    'owner = fields.OneToOneField("app.Person", related_name="badge", db_index=True)',
)


def test_the_file_keeps_unique_and_index(tmp_path: Path) -> None:
    project = Project(tmp_path, Backend("sqlite", tmp_path))
    project.write_models({"app": models(PERSON, BADGE)})
    (made,) = project.makemigrations().migrations
    source = made.path.read_text(encoding="utf-8")
    assert "fields.CharField(max_length=20, unique=True, db_index=True)" in source, source
    (loaded,) = load_migrations(project.migrations).values()
    badge = next(op for op in loaded.operations if getattr(op, "name", "") == "Badge")
    written = dict(badge.fields)
    assert written["code"] == fields.CharField(max_length=20, unique=True, db_index=True)
    assert written["owner"].unique and written["owner"].db_index
