"""What the NULLs of a column that becomes NOT NULL are filled with, and how it is rendered."""

from __future__ import annotations

from tortoise_march_ext import migrations
from tortoise_march_ext.backends.postgres import PostgresEditor
from tortoise_march_ext.backends.sqlite import SqliteEditor
from tortoise_march_ext.operations.base import sync_model
from tortoise_march_ext.schema import fields
from tortoise_march_ext.schema.state import (
    NOT_PROVIDED,
    FieldState,
    ModelState,
    ProjectState,
    SqlDefault,
)

PK = ("id", fields.IntField(primary_key=True))


def _state(qty: FieldState) -> ProjectState:
    return ProjectState({("app", "Item"): ModelState("app", "Item", "item", (PK, ("qty", qty)))})


def _sql(editor: object, new: FieldState, fill: object = NOT_PROVIDED) -> list[str]:
    before, after = _state(fields.IntField(null=True)), _state(new)
    op = migrations.AlterField(model="Item", name="qty", field=new, fill=fill)
    return sync_model(
        editor,  # type: ignore[arg-type]
        (before, before.get_model("app", "Item")),
        (after, after.get_model("app", "Item")),
        fills=op.fills("app", before, after),
    )


def test_db_default_fills_before_set_not_null_on_postgres() -> None:
    sql = _sql(PostgresEditor(), fields.IntField(db_default=5))
    update = 'UPDATE "item" SET "qty" = 5 WHERE "qty" IS NULL;'
    assert update in sql
    assert sql.index(update) < sql.index('ALTER TABLE "item" ALTER COLUMN "qty" SET NOT NULL;')


def test_sql_db_default_is_rendered_as_sql_in_the_sqlite_copy() -> None:
    sql = _sql(SqliteEditor(), fields.IntField(db_default=SqlDefault("(1 + 1)")))
    assert any('COALESCE("qty", (1 + 1))' in s for s in sql)


def test_db_default_wins_over_default_and_one_off_wins_over_both() -> None:
    both = fields.IntField(default=1, db_default=5)
    assert 'UPDATE "item" SET "qty" = 5 WHERE "qty" IS NULL;' in _sql(PostgresEditor(), both)
    assert 'UPDATE "item" SET "qty" = 9 WHERE "qty" IS NULL;' in _sql(PostgresEditor(), both, 9)
