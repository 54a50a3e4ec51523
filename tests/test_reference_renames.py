"""A field rename carries into every relation of the state that targets the field by name."""

from __future__ import annotations

from tortoise_march_ext import migrations
from tortoise_march_ext.autodetect.autodetector import detect_changes
from tortoise_march_ext.autodetect.questioner import Questioner, RenameHints
from tortoise_march_ext.schema import fields
from tortoise_march_ext.schema.state import FieldState, ModelState, ProjectState

PK = ("id", fields.IntField(primary_key=True))


def _state(code: str) -> ProjectState:
    node = ModelState(
        "app",
        "Node",
        "node",
        (
            PK,
            (code, fields.CharField(max_length=10, unique=True)),
            ("parent", fields.ForeignKeyField("app.Node", null=True, to_field=code)),
        ),
    )
    leaf = ModelState(
        "app", "Leaf", "leaf", (PK, ("node", fields.ForeignKeyField("app.Node", to_field=code)))
    )
    return ProjectState({("app", "Node"): node, ("app", "Leaf"): leaf})


def _to_field(state: ProjectState, model: str, name: str) -> str | None:
    field: FieldState = state.get_model("app", model).get_field(name)
    return field.to_field


def test_rename_field_repoints_to_field_of_other_and_own_relations() -> None:
    state = _state("code")
    migrations.RenameField(model="Node", old_name="code", new_name="key").state_forwards(
        "app", state
    )
    assert _to_field(state, "Leaf", "node") == "key"
    assert _to_field(state, "Node", "parent") == "key"
    assert state.models == _state("key").models


def test_autodetector_writes_only_the_rename() -> None:
    hints = Questioner(RenameHints.parse(["app.Node.code=key"], None))
    changes = detect_changes(_state("code"), _state("key"), {"app"}, hints)
    assert [op.describe() for op in changes.operations["app"]] == [
        "Rename field code on Node to key"
    ]


def test_rename_model_keeps_to_field() -> None:
    state = _state("code")
    migrations.RenameModel(old_name="Node", new_name="Vertex").state_forwards("app", state)
    leaf = state.get_model("app", "Leaf").get_field("node")
    assert (leaf.to, leaf.to_field) == ("app.Vertex", "code")
    parent = state.get_model("app", "Vertex").get_field("parent")
    assert (parent.to, parent.to_field) == ("app.Vertex", "code")
