"""The checks: which rules one operation breaks, given the state before it.

Each check reads an operation and a :class:`Context` (the state before it, the tables that existed
when its migration started) and yields a :class:`Hit` per rule broken. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from .. import operations as ops
from ..exceptions import StateError
from ..schema.state import FieldState, ModelState, ProjectState, SqlDefault
from .rules import (
    CONCURRENTLY,
    JSON_TYPE,
    PG_TYPES,
    SMALL_PK_KINDS,
    SQL_LITERAL,
    VOLATILE_SQL,
)


# -- what a check sees ---------------------------------------------------------------------------
class Hit(NamedTuple):
    """A rule an operation breaks, what it touches, and (for rules with several causes) why."""

    rule: str
    subject: str
    detail: str = ""


@dataclass(frozen=True)
class Target:
    """The database an app's migrations run on: its dialect and, when known, the server.

    ``mariadb`` and ``version`` are None when nobody asked the server (the checks then assume
    the least capable one and say so)."""

    dialect: str = "postgres"
    mariadb: bool | None = None
    version: tuple[int, int, int] | None = None

    def describe(self) -> str:
        """Return ``MariaDB 10.11.6``, ``MySQL 8.0.36``, or the dialect when not known."""
        if self.version is None or self.mariadb is None:
            return self.dialect
        name = "MariaDB" if self.mariadb else "MySQL"
        return f"{name} {'.'.join(str(n) for n in self.version)}"


@dataclass
class Context:
    """The state before an operation, what existed when its migration started, and the
    database it runs on."""

    app: str
    state: ProjectState
    existing: set[str]
    atomic: bool
    not_valid: set[str]
    target: Target = Target()

    def model(self, name: str) -> ModelState | None:
        """Return the model ``name`` of the app, or None."""
        return self.state.models.get((self.app, name))

    def is_existing(self, name: str) -> bool:
        """Return whether the model's table existed before this migration."""
        return name in self.existing and self.model(name) is not None

    def field(self, model: str, name: str) -> FieldState | None:
        """Return the field as it is before the operation, or None."""
        state = self.model(model)
        return state.field_map.get(name) if state else None


def flag(op: ops.Operation, name: str) -> bool:
    return bool(getattr(op, name, False))


# -- field rules ---------------------------------------------------------------------------------
def _small_pk(field: FieldState, subject: str) -> Iterator[Hit]:
    if field.primary_key and field.kind in SMALL_PK_KINDS:
        yield Hit("int-pk-overflow", subject)


def _volatile(field: FieldState) -> bool:
    default = field.db_default
    return isinstance(default, SqlDefault) and bool(
        VOLATILE_SQL.search(default.for_dialect("postgres"))
    )


def column_type(field: FieldState, state: ProjectState, depth: int = 0) -> tuple[Any, ...]:
    """Return the PostgreSQL type of ``field`` as a comparable tuple (a reference follows its
    target's primary key)."""
    if field.is_fk:
        try:
            target = state.resolve(field.to or "")
            pk = target.get_field(field.to_field or target.pk_name)
        except StateError:
            return ("reference", field.to, field.to_field)
        return column_type(pk, state, depth + 1) if depth < 8 else ("reference", field.to)
    base = PG_TYPES.get(field.kind, field.kind)
    if base == "varchar":
        return (base, field.max_length)
    if base == "numeric":
        return (base, field.max_digits, field.decimal_places)
    if field.kind == "ArrayField":
        return (base, field.element_type)
    return (base,)


def _length(sql_type: tuple[Any, ...]) -> float:
    return float("inf") if sql_type[1] is None else float(sql_type[1])


def _type_change(old: FieldState, new: FieldState, ctx: Context, subject: str) -> Iterator[Hit]:
    before, after = column_type(old, ctx.state), column_type(new, ctx.state)
    if before == after or (before[0] == "varchar" and after == ("text",)):
        return
    if before[0] == after[0] == "varchar":
        if _length(after) < _length(before):
            yield Hit("narrow-varchar", subject)
        return
    yield Hit("alter-column-type-rewrite", subject)


def _proven_not_null(model: ModelState, column: str, not_valid: set[str]) -> bool:
    """Return whether a valid CHECK (column IS NOT NULL) already holds."""
    proof = re.compile(rf'(?<!\w)"?{re.escape(column)}"?\s+is\s+not\s+null', re.IGNORECASE)
    return any(
        c.kind == "check"
        and proof.search(c.check or "")
        and c.name not in not_valid
        and not getattr(c, "not_valid", False)
        for c in model.constraints
    )


def _new_reference(old: FieldState | None, new: FieldState) -> bool:
    if not (new.is_fk and new.db_constraint):
        return False
    if old is None or not (old.is_fk and old.db_constraint):
        return True
    return (old.to, old.to_field) != (new.to, new.to_field)


def _add_field(op: ops.AddField, ctx: Context) -> Iterator[Hit]:
    field, subject = op.field, f"{op.model}.{op.name}"
    yield from _small_pk(field, subject)
    if field.is_m2m or not ctx.is_existing(op.model):
        return
    if _volatile(field):
        yield Hit("add-column-volatile-default", subject)
    if _new_reference(None, field) and not flag(op, "not_valid"):
        yield Hit("add-fk-without-not-valid", subject)
    if field.unique and not field.primary_key:
        yield Hit("unique-without-concurrent-index", subject)
    elif field.db_index:
        yield Hit("index-without-concurrently", subject)


def _alter_field(op: ops.AlterField, ctx: Context) -> Iterator[Hit]:
    old, new, subject = ctx.field(op.model, op.name), op.field, f"{op.model}.{op.name}"
    if old is None or not (old.primary_key and old.kind == new.kind):
        yield from _small_pk(new, subject)
    model = ctx.model(op.model)
    if old is None or model is None or old.is_m2m or new.is_m2m or not ctx.is_existing(op.model):
        return
    yield from _type_change(old, new, ctx, subject)
    column = old.column(op.name)
    if old.null and not new.null and not _proven_not_null(model, column, ctx.not_valid):
        yield Hit("set-not-null", subject)
    if _new_reference(old, new) and not flag(op, "not_valid"):
        yield Hit("add-fk-without-not-valid", subject)
    if new.unique and not old.unique:
        yield Hit("unique-without-concurrent-index", subject)
    elif new.db_index and not old.db_index:
        yield Hit("index-without-concurrently", subject)
    if new.column(op.name) != column:
        yield Hit("drop-or-rename-in-use", f"column {model.table}.{column}")


def _remove_field(op: ops.RemoveField, ctx: Context) -> Iterator[Hit]:
    if ctx.is_existing(op.model):
        yield Hit("drop-or-rename-in-use", f"field {op.model}.{op.name}")


def _rename_field(op: ops.RenameField, ctx: Context) -> Iterator[Hit]:
    model, old = ctx.model(op.model), ctx.field(op.model, op.old_name)
    if model is None or old is None or not ctx.is_existing(op.model):
        return
    if old.column(op.old_name) != old.column(op.new_name):
        yield Hit("drop-or-rename-in-use", f"column {model.table}.{old.column(op.old_name)}")


# -- model and table-option rules ----------------------------------------------------------------
def _create_model(op: ops.CreateModel, ctx: Context) -> Iterator[Hit]:
    for name, state in op.fields:
        yield from _small_pk(state, f"{op.name}.{name}")


def _drop_table(op: ops.DeleteModel | ops.AlterModelTable, ctx: Context) -> Iterator[Hit]:
    model, new_table = ctx.model(op.name), getattr(op, "table", None)
    if model is not None and ctx.is_existing(op.name) and model.table != new_table:
        yield Hit("drop-or-rename-in-use", f"table {model.table}")


def _index(op: ops.AddIndex | ops.RemoveIndex, ctx: Context) -> Iterator[Hit]:
    if isinstance(op, ops.AddIndex):
        label = op.index.name or f"({', '.join(op.index.fields or op.index.expressions)})"
    else:
        label = op.name
    concurrent = flag(op, "concurrently")
    if concurrent and ctx.atomic:
        yield Hit("concurrently-in-transaction", f"index {op.model}.{label}")
    if not concurrent and ctx.is_existing(op.model):
        yield Hit("index-without-concurrently", f"{op.model}.{label}")


def _add_constraint(op: ops.AddConstraint, ctx: Context) -> Iterator[Hit]:
    kind, subject = op.constraint.kind, f"{op.model}.{op.constraint.name}"
    if flag(op, "concurrently") and ctx.atomic:
        yield Hit("concurrently-in-transaction", f"constraint {subject}")
    if not ctx.is_existing(op.model):
        return
    if kind == "check" and not flag(op, "not_valid"):
        yield Hit("add-check-without-not-valid", subject)
    if kind == "unique" and not flag(op, "concurrently"):
        yield Hit("unique-without-concurrent-index", subject)
    if kind == "exclusion":
        yield Hit("add-exclusion-constraint", subject)


def _unique_together(op: ops.AlterUniqueTogether, ctx: Context) -> Iterator[Hit]:
    model = ctx.model(op.model)
    if model is None or not ctx.is_existing(op.model):
        return
    added = [g for g in op.unique_together if tuple(g) not in set(model.unique_together)]
    if added:
        groups = "; ".join(", ".join(g) for g in added)
        yield Hit("unique-without-concurrent-index", f"{op.model} ({groups})")


def statements(op: ops.RunSQL) -> list[str]:
    return [op.sql] if isinstance(op.sql, str) else list(op.sql)


def _run_sql(op: ops.RunSQL, ctx: Context) -> Iterator[Hit]:
    yield Hit("run-sql", "")
    code = [SQL_LITERAL.sub("''", sql) for sql in statements(op)]
    if any(JSON_TYPE.search(sql) for sql in code):
        yield Hit("json-not-jsonb", "")
    if ctx.atomic and any(CONCURRENTLY.search(sql) for sql in code):
        yield Hit("concurrently-in-transaction", "RunSQL")


CHECKS: dict[type[ops.Operation], Callable[[Any, Context], Iterator[Hit]]] = {
    ops.AddField: _add_field,
    ops.AlterField: _alter_field,
    ops.RemoveField: _remove_field,
    ops.RenameField: _rename_field,
    ops.CreateModel: _create_model,
    ops.DeleteModel: _drop_table,
    ops.AlterModelTable: _drop_table,
    ops.AddIndex: _index,
    ops.RemoveIndex: _index,
    ops.AddConstraint: _add_constraint,
    ops.AlterUniqueTogether: _unique_together,
    ops.RunSQL: _run_sql,
}


def check_operation(op: ops.Operation, ctx: Context) -> list[Hit]:
    """Return the rules ``op`` breaks, given the state before it (``ctx``)."""
    check = next((CHECKS[k] for k in type(op).__mro__ if k in CHECKS), None)
    return list(check(op, ctx)) if check else []
