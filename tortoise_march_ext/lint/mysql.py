"""The MySQL/MariaDB checks: changes that copy a busy table or block its writes.

InnoDB changes most things online (indexes, unique keys, NOT NULL, defaults, renames, dropping a
column), and the schema editor with ``safe_defaults`` asks for ``ALGORITHM=INSTANT`` or
``ALGORITHM=INPLACE, LOCK=NONE`` there. What it cannot ask that for, the server copies
(``ALGORITHM=COPY``) or builds under a shared lock; these checks name those: a column type
change (a VARCHAR widened within its length byte is instant and passes), a primary key added,
dropped or moved, a foreign key added or added again (a rename of its column or table, a new
ON DELETE), a CHECK constraint, a FULLTEXT or SPATIAL index, and a column added where the
server has no instant ADD COLUMN. The editor adds columns last, which MySQL 8.0.12+ and
MariaDB 10.3.2+ do instantly; a column placed with FIRST/AFTER in raw SQL needs 8.0.29+ / 10.4+.

Of PostgreSQL's rules only those in :data:`.rules.SHARED` apply (running code, raw SQL, key
ranges). Pure: the server's version comes in the :class:`.checks.Target`, read by the command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .. import operations as ops
from ..backends.mysql import MySQLEditor
from ..exceptions import StateError
from ..schema.state import FieldState, ModelState, ProjectState
from .checks import Context, Hit, Target, check_operation, flag, statements
from .rules import (
    ADD_COLUMN_PLACED,
    INSTANT_ADD_ANYWHERE,
    INSTANT_ADD_LAST,
    OWN_INDEX_TYPES,
    SHARED,
    SQL_LITERAL,
)

# VARCHAR(n) keeps its one length byte up to 255 bytes: 63 utf8mb4 characters.
ONE_LENGTH_BYTE = 255 // 4


def mysql_type(field: FieldState, state: ProjectState, depth: int = 0) -> tuple[Any, ...]:
    """Return the MySQL column type of ``field`` as the editor writes it (a reference follows
    its target's primary key), with AUTO_INCREMENT, which also copies the table when it changes."""
    if field.is_fk:
        try:
            target = state.resolve(field.to or "")
            pk = target.get_field(field.to_field or target.pk_name)
        except StateError:
            return ("reference", field.to, field.to_field)
        return mysql_type(pk, state, depth + 1)[:1] if depth < 8 else ("reference", field.to)
    template = MySQLEditor.types.get(field.kind, field.kind)
    storage = "BINARY(16)" if field.binary_compression else "CHAR(36)"
    text = template.format(
        max_length=field.max_length,
        max_digits=field.max_digits,
        decimal_places=field.decimal_places,
        uuid_storage=storage,
    )
    return (text, field.generated)


def _instant_widening(old: FieldState, new: FieldState) -> bool:
    """Return whether a VARCHAR only grows within its length byte (instant on InnoDB)."""
    kinds = {"CharField", "CharEnumField"}
    if old.kind not in kinds or new.kind not in kinds or old.generated != new.generated:
        return False
    before, after = old.max_length or 0, new.max_length or 0
    return before <= after and (before <= ONE_LENGTH_BYTE) == (after <= ONE_LENGTH_BYTE)


def _indexed_for_text(model: ModelState) -> bool:
    return any(i.index_type.upper() in OWN_INDEX_TYPES for i in model.indexes)


def _no_instant_add(
    ctx: Context, model: ModelState | None, *, anywhere: bool = False
) -> str | None:
    """Return why adding a column rebuilds ``model``'s table (None: not known, as in raw SQL),
    or None when the server adds it instantly."""
    if model is not None and _indexed_for_text(model):
        return "the table has a FULLTEXT or SPATIAL index, so writes wait until it is done"
    needs = INSTANT_ADD_ANYWHERE if anywhere else INSTANT_ADD_LAST
    where = "in any position" if anywhere else "as the last column"
    floor = f"MySQL {_dotted(needs[False])} and MariaDB {_dotted(needs[True])}"
    server = ctx.target
    if server.version is None or server.mariadb is None:
        return (
            f"servers before {floor} cannot add a column {where} instantly, and lint could not "
            "read this server's version, so it warns in case"
        )
    if server.version < needs[server.mariadb]:
        return f"{server.describe()} cannot add a column {where} instantly (from {floor} on)"
    return None


def _dotted(version: tuple[int, int, int]) -> str:
    return ".".join(str(n) for n in version)


def _reference(field: FieldState | None) -> bool:
    return field is not None and field.is_fk and field.db_constraint


def _fk_detail(op: ops.Operation) -> str:
    return " (not_valid does nothing on MySQL)" if flag(op, "not_valid") else ""


# -- the checks ----------------------------------------------------------------------------------
def _add_field(op: ops.AddField, ctx: Context) -> Iterator[Hit]:
    field, subject, model = op.field, f"{op.model}.{op.name}", ctx.model(op.model)
    if field.is_m2m or model is None or not ctx.is_existing(op.model):
        return
    if field.primary_key:
        yield Hit("mysql-primary-key", subject, "adding")
    else:
        why = _no_instant_add(ctx, model)
        if why:
            yield Hit("mysql-add-column-rebuild", subject, why)
    if _reference(field):
        yield Hit("mysql-add-foreign-key", subject, _fk_detail(op))


def _alter_field(op: ops.AlterField, ctx: Context) -> Iterator[Hit]:
    old, new, subject = ctx.field(op.model, op.name), op.field, f"{op.model}.{op.name}"
    if old is None or old.is_m2m or new.is_m2m or not ctx.is_existing(op.model):
        return
    if old.primary_key != new.primary_key:
        yield Hit("mysql-primary-key", subject, "adding" if new.primary_key else "dropping")
    retyped = mysql_type(old, ctx.state) != mysql_type(new, ctx.state)
    if retyped and not _instant_widening(old, new):
        yield Hit("mysql-alter-column-type", subject)
    if not _reference(new):
        return
    if not _reference(old) or (old.to, old.to_field) != (new.to, new.to_field):
        yield Hit("mysql-add-foreign-key", subject, _fk_detail(op))
    elif old.on_delete != new.on_delete:
        yield Hit("mysql-add-foreign-key", subject, " (added again for the new ON DELETE)")
    elif old.column(op.name) != new.column(op.name):
        yield Hit("mysql-add-foreign-key", subject, " (added again under its new column name)")


def _rename_field(op: ops.RenameField, ctx: Context) -> Iterator[Hit]:
    old = ctx.field(op.model, op.old_name)
    if old is None or not _reference(old) or not ctx.is_existing(op.model):
        return
    if old.column(op.old_name) != old.column(op.new_name):
        subject = f"{op.model}.{op.new_name}"
        yield Hit("mysql-add-foreign-key", subject, " (added again under its new column name)")


def _remove_field(op: ops.RemoveField, ctx: Context) -> Iterator[Hit]:
    old = ctx.field(op.model, op.name)
    if old is not None and old.primary_key and ctx.is_existing(op.model):
        yield Hit("mysql-primary-key", f"{op.model}.{op.name}", "dropping")


def _alter_table(op: ops.AlterModelTable, ctx: Context) -> Iterator[Hit]:
    model = ctx.model(op.name)
    if model is None or not ctx.is_existing(op.name) or model.table == op.table:
        return
    for name, field in model.fields:
        if _reference(field):
            detail = " (added again under the table's new name)"
            yield Hit("mysql-add-foreign-key", f"{op.name}.{name}", detail)


def _add_index(op: ops.AddIndex, ctx: Context) -> Iterator[Hit]:
    kind = op.index.index_type.upper()
    if kind in OWN_INDEX_TYPES and ctx.is_existing(op.model):
        label = op.index.name or f"({', '.join(op.index.fields or op.index.expressions)})"
        yield Hit("mysql-fulltext-index", f"{op.model}.{label}", kind)


def _add_constraint(op: ops.AddConstraint, ctx: Context) -> Iterator[Hit]:
    if op.constraint.kind == "check" and ctx.is_existing(op.model):
        yield Hit("mysql-add-check", f"{op.model}.{op.constraint.name}")


def _run_sql(op: ops.RunSQL, ctx: Context) -> Iterator[Hit]:
    code = [SQL_LITERAL.sub("''", sql) for sql in statements(op)]
    if any(ADD_COLUMN_PLACED.search(sql) for sql in code):
        why = _no_instant_add(ctx, None, anywhere=True)
        if why:
            yield Hit("mysql-add-column-rebuild", "(FIRST or AFTER, in RunSQL)", why)


CHECKS: dict[type[ops.Operation], Callable[[Any, Context], Iterator[Hit]]] = {
    ops.AddField: _add_field,
    ops.AlterField: _alter_field,
    ops.RenameField: _rename_field,
    ops.RemoveField: _remove_field,
    ops.AlterModelTable: _alter_table,
    ops.AddIndex: _add_index,
    ops.AddConstraint: _add_constraint,
    ops.RunSQL: _run_sql,
}


def check_mysql(op: ops.Operation, ctx: Context) -> list[Hit]:
    """Return the rules ``op`` breaks on MySQL/MariaDB: the shared ones, then MySQL's own."""
    shared = [hit for hit in check_operation(op, ctx) if hit.rule in SHARED]
    check = next((CHECKS[k] for k in type(op).__mro__ if k in CHECKS), None)
    return shared + (list(check(op, ctx)) if check else [])


__all__ = ["Target", "check_mysql", "mysql_type"]
