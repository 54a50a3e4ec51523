"""The autodetector and optimizer, from small named states (no database, no files)."""

from __future__ import annotations

from tortoise_march_ext import migrations
from tortoise_march_ext.autodetect.autodetector import detect_changes
from tortoise_march_ext.autodetect.optimizer import optimize
from tortoise_march_ext.schema import fields
from tortoise_march_ext.schema.state import FieldState, ModelState, ProjectState

PK = ("id", fields.IntField(primary_key=True))


def state(*models: ModelState) -> ProjectState:
    return ProjectState({(m.app, m.name): m for m in models})


def model(
    name: str, *extra: tuple[str, FieldState], app: str = "app", **options: object
) -> ModelState:
    return ModelState(app, name, options.pop("table", name.lower()), (PK, *extra), **options)  # type: ignore[arg-type]


def ops(before: ProjectState, after: ProjectState) -> list[str]:
    changes = detect_changes(before, after, set(before.apps) | set(after.apps))
    return [
        f"{app}: {op.describe()}"
        for app in sorted(changes.operations)
        for op in changes.operations[app]
    ]


NAME = ("name", fields.CharField(max_length=20))


def test_nothing_changed_gives_nothing() -> None:
    current = state(model("A", NAME))
    assert ops(current, current) == []


def test_field_added_removed_altered() -> None:
    before = state(model("A", NAME, ("old", fields.IntField())))
    after = state(model("A", ("name", fields.CharField(max_length=40)), ("new", fields.IntField())))
    assert ops(before, after) == [
        "app: Remove field old from A",
        "app: Add field new to A",
        "app: Alter field name on A",
    ]


def test_created_models_come_in_dependency_order() -> None:
    after = state(
        model("A", ("b", fields.ForeignKeyField("app.B"))),
        model("B", ("c", fields.ForeignKeyField("app.C"))),
        model("C"),
    )
    assert ops(state(), after) == [
        "app: Create model C",
        "app: Create model B",
        "app: Create model A",
    ]


def test_cycle_is_closed_by_a_deferred_add_field() -> None:
    after = state(
        model("A", ("b", fields.ForeignKeyField("app.B", null=True))),
        model("B", ("a", fields.ForeignKeyField("app.A"))),
    )
    assert ops(state(), after) == [
        "app: Create model A",
        "app: Create model B",
        "app: Add field b to A",
    ]


def test_deleted_models_go_referencing_first() -> None:
    before = state(model("A"), model("B", ("a", fields.ForeignKeyField("app.A"))))
    assert ops(before, state()) == ["app: Delete model B", "app: Delete model A"]


def test_table_rename_and_index_change_order() -> None:
    before = state(model("A", NAME, unique_together=(("id", "name"),)))
    after = state(model("A", NAME, table="renamed", indexes=(fields.Index(fields=["name"]),)))
    assert ops(before, after) == [
        "app: Alter unique_together for A (0 group(s))",
        "app: Rename table of A to renamed",
        "app: Add index name on A",
    ]


def test_optimizer_folds_add_alter_remove() -> None:
    add = migrations.AddField(model="A", name="x", field=fields.IntField())
    alter = migrations.AlterField(model="A", name="x", field=fields.BigIntField())
    remove = migrations.RemoveField(model="A", name="x")
    create = migrations.CreateModel(name="B", table="b", fields=[PK])
    delete = migrations.DeleteModel(name="B")
    assert optimize([add, alter], "app") == [
        migrations.AddField(model="A", name="x", field=fields.BigIntField())
    ]
    assert optimize([add, alter, remove], "app") == []
    assert optimize([create, delete], "app") == []
    other = migrations.AddField(model="A", name="y", field=fields.IntField())
    assert optimize([add, other], "app") == [add, other]


def test_optimizer_folds_changes_into_create_model() -> None:
    create = migrations.CreateModel(name="A", table="a", fields=[PK])
    add = migrations.AddField(model="A", name="x", field=fields.IntField())
    rename = migrations.RenameField(model="A", old_name="x", new_name="y")
    alter = migrations.AlterField(model="A", name="y", field=fields.BigIntField(null=True))
    index = migrations.AddIndex(model="A", index=fields.Index(fields=("y",)))
    table = migrations.AlterModelTable(name="A", table="a2")
    renamed = migrations.RenameModel(old_name="A", new_name="B")
    folded = optimize([create, add, rename, alter, index, table, renamed], "app")
    assert folded == [
        migrations.CreateModel(
            name="B",
            table="a2",
            fields=[PK, ("y", fields.BigIntField(null=True))],
            indexes=[fields.Index(fields=("y",))],
        )
    ]


def test_optimizer_moves_folds_past_independent_operations_only() -> None:
    create_a = migrations.CreateModel(name="A", table="a", fields=[PK])
    create_b = migrations.CreateModel(name="B", table="b", fields=[PK])
    fk_to_b = migrations.AddField(model="A", name="b", field=fields.ForeignKeyField("app.B"))
    # A's foreign key to B folds into CreateModel(A), which then moves after CreateModel(B).
    assert optimize([create_a, create_b, fk_to_b], "app") == [
        create_b,
        migrations.CreateModel(
            name="A", table="a", fields=[PK, ("b", fields.ForeignKeyField("app.B"))]
        ),
    ]
    # B points at A and A at B (a cycle): the deferred foreign key must stay apart.
    b_to_a = migrations.CreateModel(
        name="B", table="b", fields=[PK, ("a", fields.ForeignKeyField("app.A"))]
    )
    assert optimize([create_a, b_to_a, fk_to_b], "app") == [create_a, b_to_a, fk_to_b]
    # Nothing folds across hand-written code.
    sql = migrations.RunSQL("UPDATE a SET x = 1")
    add = migrations.AddField(model="A", name="x", field=fields.IntField())
    alter = migrations.AlterField(model="A", name="x", field=fields.BigIntField())
    assert optimize([add, sql, alter], "app") == [add, sql, alter]
    assert optimize([create_a, sql, add], "app") == [create_a, sql, add]
    # A change of another model in between does not stop a fold.
    other = migrations.AddField(model="B", name="y", field=fields.IntField())
    assert optimize([add, other, alter], "app") == [
        other,
        migrations.AddField(model="A", name="x", field=fields.BigIntField()),
    ]


def test_suggested_names_are_names_the_loader_accepts() -> None:
    from tortoise_march_ext.commands.make import suggest_name
    from tortoise_march_ext.files.loader import NAME_RE

    operations = [
        migrations.AddField("Book", "название", fields.IntField(null=True)),
        migrations.AddField("书", "标题", fields.IntField(null=True)),
        migrations.AddField("Book", "pages", fields.IntField(null=True)),
    ]
    name = suggest_name(operations, initial=False)
    assert NAME_RE.match(name), name
    assert name == "book_book_pages"
    assert suggest_name(operations[1:2], initial=False) == "auto"
