"""Moving a model's primary key to another column, and repointing what references it.

``AddField``/``RemoveField`` of a primary key use :func:`move_primary_key`; the columns of
other tables (foreign keys, through tables) follow with their rows kept.
"""

from __future__ import annotations

from typing import Any

from ..backends.base import SchemaEditor
from ..backends.changes import TableChange
from ..schema.state import ModelState, ProjectState
from ..schema.tables import Column, Table, model_tables, resolve_table


def pk_of(model: ModelState) -> str | None:
    """Return the name of ``model``'s primary key field (None when it has none)."""
    return next((n for n, f in model.fields if f.primary_key), None)


def move_primary_key(
    app: str,
    model: str,
    editor: SchemaEditor,
    before: ProjectState,
    after: ProjectState,
    fills: dict[str, Any],
) -> list[str]:
    """Return the statements that move ``model``'s primary key to another of its columns and
    repoint every column that references it (through tables, foreign keys), keeping rows.

    The referencing columns lose their constraints and become text; while both key columns
    exist, each value is replaced by the same row's new key; then the columns take their new
    type and constraints. Text carries any key type into any other, in both directions.
    """
    old_model, new_model = before.get_model(app, model), after.get_model(app, model)
    old_main, new_main = resolve_table(before, old_model), resolve_table(after, new_model)
    old_key = old_model.column_of(pk_of(old_model) or "")
    new_key = new_model.column_of(pk_of(new_model) or "")
    _refuse_self_reference(old_model, old_main, new_main, old_key)
    main = editor.alter_table(TableChange(old_main, new_main, {}, fills))
    refs = _referencing(before, after, (app, model), old_main.name, old_key)
    adding = new_key not in old_main.column_names
    out: list[str] = []
    for old, bare, _, _, _ in refs:
        out += _alter(editor, old, bare)
    out += main if adding else []
    for _, bare, text, _, cols in refs:
        out += _alter(editor, bare, text)
        out += [
            editor.update_reference(text.name, c, new_main.name, old_key, new_key) for c in cols
        ]
    out += [] if adding else main
    for _, _, text, new, _ in refs:
        out += _alter(editor, text, new)
    return out


def _refuse_self_reference(model: ModelState, old: Table, new: Table, key: str) -> None:
    """Raise StateError when the model's own table references the key that moves."""
    own = [c.name for c in old.columns if _points_at(c, old.name, key)]
    moved = [c for c in own if not _points_at(_column(new, c), new.name, key)]
    if moved:
        from ..exceptions import StateError

        raise StateError(
            f"{model.label}: its primary key {key!r} cannot move while its own column(s) "
            f"{', '.join(moved)} reference it; remove the self-reference in one migration, "
            "move the primary key in the next, then add the reference back"
        )


_Referencing = tuple[Table, Table, Table, Table, tuple[str, ...]]


def _referencing(
    before: ProjectState, after: ProjectState, own: tuple[str, str], table: str, key: str
) -> list[_Referencing]:
    """Return (old, without constraints, as text, new, columns) for each other table whose
    columns reference ``table.key`` in ``before`` and no longer do in ``after`` (a column that
    targets another field through ``to_field`` stays as it is)."""
    found = []
    for name in sorted(set(before.models) & set(after.models)):
        old = {t.name: t for t in model_tables(before, before.models[name])}
        new = {t.name: t for t in model_tables(after, after.models[name])}
        for tname in sorted(old.keys() & new.keys()):
            if name == own and tname == table:
                continue
            cols = tuple(
                c.name
                for c in old[tname].columns
                if _points_at(c, table, key)
                and not _points_at(_column(new[tname], c.name), table, key)
            )
            if cols:
                bare = _replace_columns(old[tname], cols, reference=None)
                text = _replace_columns(
                    bare,
                    cols,
                    kind="TextField",
                    max_length=None,
                    max_digits=None,
                    decimal_places=None,
                )
                found.append((old[tname], bare, text, new[tname], cols))
    return found


def _column(table: Table, name: str) -> Column | None:
    return next((c for c in table.columns if c.name == name), None)


def _points_at(column: Column | None, table: str, key: str) -> bool:
    ref = column.reference if column else None
    return ref is not None and (ref.table, ref.column) == (table, key)


def _alter(editor: SchemaEditor, old: Table, new: Table) -> list[str]:
    return editor.alter_table(TableChange(old, new, {}, {})) if old != new else []


def _replace_columns(table: Table, names: tuple[str, ...], **changes: Any) -> Table:
    columns = tuple(
        Column(**{**c.__dict__, **changes}) if c.name in names else c for c in table.columns
    )
    return Table(**{**table.__dict__, "columns": columns})
