"""A model's primary key moves to another column: every reference (through tables, foreign keys)
follows it with its rows, forwards and backwards, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import require_postgres
from tests.harness import Backend, Project, assert_same
from tests.scenarios import ID, TAG, model, models
from tortoise_march_ext.exceptions import MarchError

ENTRY = model(
    "Entry", f'{ID}\nconfig = fields.ForeignKeyField("app.Config", related_name="entries")'
)
M2M = 'value = fields.IntField()\ntags = fields.ManyToManyField("app.Tag", related_name="configs")'
BEFORE = models(
    TAG, model("Config", f"slug = fields.CharField(max_length=20, primary_key=True)\n{M2M}"), ENTRY
)
AFTER = models(
    TAG, model("Config", f"slug = fields.CharField(max_length=20, unique=True)\n{M2M}"), ENTRY
)
ROWS = [
    "INSERT INTO tag (id, name) VALUES (1, 'a'), (2, 'b')",
    "INSERT INTO config (slug, value) VALUES ('x', 10), ('y', 20)",
    "INSERT INTO config_tag (config_id, tag_id) VALUES ('x', 1), ('y', 1), ('y', 2)",
    "INSERT INTO entry (id, config_id) VALUES (5, 'y')",
]
THROUGH = (
    "SELECT c.slug, t.tag_id FROM config c JOIN config_tag t ON t.config_id = c.{} ORDER BY 1, 2"
)
ENTRIES = "SELECT e.id, c.slug FROM entry e JOIN config c ON e.config_id = c.{}"


@pytest.mark.parametrize("backend_name", ["sqlite", "postgres"])
def test_references_follow_the_primary_key_both_ways(backend_name: str, tmp_path: Path) -> None:
    if backend_name == "postgres":
        require_postgres()
    backend = Backend(backend_name, tmp_path)
    try:
        project = Project(tmp_path, backend)
        project.write_models({"app": BEFORE})
        project.makemigrations()
        project.migrate()
        for sql in ROWS:
            backend.execute(project.url, sql)
        project.write_models({"app": AFTER})
        made = project.makemigrations()
        assert [op.describe() for m in made.migrations for op in m.operations] == [
            "Add field id to Config",
            "Alter field slug on Config",
        ]
        project.migrate()
        assert_same(project.schema(), project.reference_schema(), "after")
        linked = [("x", 1), ("y", 1), ("y", 2)]
        assert backend.execute(project.url, THROUGH.format("id")) == linked
        assert backend.execute(project.url, ENTRIES.format("id")) == [(5, "y")]
        project.migrate("app", "0001")
        project.write_models({"app": BEFORE})
        assert_same(project.schema(), project.reference_schema(), "back")
        assert backend.execute(project.url, THROUGH.format("slug")) == linked
        assert backend.execute(project.url, ENTRIES.format("slug")) == [(5, "y")]
    finally:
        backend.cleanup()


def test_a_self_reference_to_the_moving_key_is_refused_before_any_change(tmp_path: Path) -> None:
    node = 'parent = fields.ForeignKeyField("app.Node", related_name="children", null=True)'
    backend = Backend("sqlite", tmp_path)
    try:
        project = Project(tmp_path, backend)
        project.write_models(
            {
                "app": models(
                    model(
                        "Node", f"slug = fields.CharField(max_length=9, primary_key=True)\n{node}"
                    )
                )
            }
        )
        project.makemigrations()
        project.migrate()
        backend.execute(project.url, "INSERT INTO node (slug, parent_id) VALUES ('a', NULL)")
        before = project.schema()
        project.write_models({"app": models(model("Node", node))})
        project.makemigrations()
        with pytest.raises(MarchError, match=r"app.Node: its primary key 'slug' cannot move while"):
            project.migrate()
        assert project.schema() == before
    finally:
        backend.cleanup()
