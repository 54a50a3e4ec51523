"""Changing a MySQL/MariaDB table in place, in as few statements as the server allows.

MySQL commits every DDL statement, so a change is one ``ALTER TABLE`` with several clauses where
possible. Around it, in this order: ``RENAME TABLE``; the UPDATEs that give rows the migration's
value for a column becoming NOT NULL; a check that the table is empty when a NOT NULL column
without any value is added; one ``ALTER TABLE`` dropping the foreign keys that go or change (the
server refuses to drop and add a key of one name in one statement, and to change the type of a
column a foreign key uses); the main ``ALTER TABLE``; and a ``MODIFY COLUMN`` that removes the
one-off DEFAULT a new column was filled with.

Foreign keys need an index whose first column is theirs. The server makes one, named like the
constraint, when none exists (``generate_schemas()`` gets it too), keeps it when the key is
dropped, and refuses to drop the last index a key uses. So a change that removes the index a key
uses adds that implicit index in the same statement, and one that drops a key or gives it a
covering index drops the implicit index, so the table ends as ``generate_schemas()`` builds it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..schema.state import NOT_PROVIDED
from ..schema.tables import Column, Table, TableIndex, TableUnique
from .changes import TableChange, matched
from .mysql_run import AlterTable, DropCheck, DropForeignKey, DropKeyIndex, WithReferences

if TYPE_CHECKING:
    from .mysql import MySQLEditor


def leading_columns(table: Table, translate: Any = None) -> set[str]:
    """Return the columns some index of ``table`` starts with (a foreign key can use it)."""
    found = {c.name for c in table.columns if c.primary_key or c.unique}
    found |= {u.columns[0] for u in table.uniques if u.columns}
    found |= {i.columns[0] for i in table.indexes if i.columns}
    if translate is not None:
        found = set(translate(tuple(found)))
    return found


def implicit_index(editor: MySQLEditor, table: Table, column: Column) -> str:
    """Return the name of the index the server makes for the foreign key of ``column``: the
    constraint's name, or on a through table (unnamed keys) the column's."""
    if any(c.primary_key for c in table.columns):
        return editor.reference_name(table, column)
    return column.name


def _same_reference(change: TableChange, old: Column, new: Column) -> bool:
    assert old.reference is not None and new.reference is not None
    target = change.new.name if old.reference.table == change.old.name else old.reference.table
    return (target, old.reference.column, old.reference.on_delete) == (
        new.reference.table,
        new.reference.column,
        new.reference.on_delete,
    )


def _index_key(index: TableIndex) -> tuple[Any, ...]:
    return (index.columns, index.expressions, index.unique, index.index_type, index.condition)


# How an ALTER TABLE may run without copying the table or blocking writes: the algorithms to
# ask for in turn (a server refusing INSTANT may still do INPLACE without locks); a change
# that copies the table gets none (lint flags it instead).
INSTANT, INPLACE, COPY = 0, 1, 2
ALGORITHMS: dict[int, tuple[str, ...]] = {
    INSTANT: ("ALGORITHM=INSTANT", "ALGORITHM=INPLACE, LOCK=NONE"),
    INPLACE: ("ALGORITHM=INPLACE, LOCK=NONE",),
    COPY: (),
}


class _Plan:
    """The clauses of one change, collected in the order they are written."""

    def __init__(self, editor: MySQLEditor, change: TableChange) -> None:
        self.editor = editor
        self.change = change
        self.q = editor.quote
        self.before: list[Any] = []
        self.drop_keys: list[Any] = []
        self.clauses: list[Any] = []
        self.after: list[Any] = []
        self.levels: dict[str, int] = {}
        empty: tuple[list[Any], list[Any], list[Any]] = ([], [], [])
        self.uniques, self.indexes, self.checks = empty, empty, empty

    def alter(self, clauses: list[Any]) -> Any:
        """Return one ALTER TABLE of ``clauses``: plain text where nothing needs the server;
        with ``safe_defaults`` (``editor.online``) asking for the online algorithm the clauses
        allow, so the server refuses rather than copies the table."""
        table = self.change.new.name
        algorithms: tuple[str, ...] = ()
        if self.editor.online:
            algorithms = ALGORITHMS[max(self.level_of(c, clauses) for c in clauses)]
        if not algorithms and all(isinstance(c, str) for c in clauses):
            return f"ALTER TABLE {self.q(table)} {', '.join(clauses)};"
        return AlterTable(table, tuple(clauses), self.q, algorithms)

    def level_of(self, clause: Any, clauses: list[Any]) -> int:
        """Return how far from INSTANT the server may go for ``clause`` (see ALGORITHMS)."""
        if isinstance(clause, DropCheck):
            return INSTANT
        if isinstance(clause, (DropForeignKey, DropKeyIndex)):
            return INPLACE
        if clause in self.levels:
            return self.levels[clause]
        text = str(clause)
        if text.startswith(("COMMENT =", "RENAME INDEX", "DROP COLUMN")):
            return INSTANT
        if text.startswith(("DROP INDEX", "ADD PRIMARY KEY", "ADD UNIQUE KEY", "ADD KEY")):
            return INPLACE
        if text == "DROP PRIMARY KEY":
            adds = any("PRIMARY KEY" in str(c) and str(c).startswith("ADD") for c in clauses)
            return INPLACE if adds else COPY
        if text.startswith("ADD COLUMN"):
            if "AUTO_INCREMENT" in text or "PRIMARY KEY" in text:
                return COPY
            return INPLACE if " UNIQUE" in text else INSTANT
        return COPY

    def statements(self) -> list[Any]:
        table = self.change.new.name
        out = list(self.before)
        if self.drop_keys:
            out.append(AlterTable(table, tuple(self.drop_keys), self.q, self.online(INPLACE)))
        if self.clauses:
            main: Any = self.alter(self.clauses)
            for o, n in self.change.pairs():
                retyped = self.editor.column_type(o) != self.editor.column_type(n)
                if retyped and (n.primary_key or n.unique) and (o.primary_key or o.unique):
                    main = WithReferences(
                        main, table, n.name, self.editor.column_type(n), self.q, o.name
                    )
            out.append(main)
        return out + self.after

    def online(self, level: int) -> tuple[str, ...]:
        """Return the algorithms to ask for at ``level`` (none without safe_defaults)."""
        return ALGORITHMS[level] if self.editor.online else ()


def alter_statements(editor: MySQLEditor, change: TableChange) -> list[Any]:
    """Return the statements that turn ``change.old`` into ``change.new``, keeping rows."""
    old, new = change.old, change.new
    for exclusion in new.exclusions:
        editor.exclusion_definition(exclusion)
    plan = _Plan(editor, change)
    q = editor.quote
    if old.name != new.name:
        plan.before.append(f"RENAME TABLE {q(old.name)} TO {q(new.name)};")
    _fills(plan)
    _foreign_keys(plan)
    _drop_constraints(plan)
    _columns(plan)
    _add_constraints(plan)
    _implicit_indexes(plan)
    if old.description != new.description:
        plan.clauses.append(f"COMMENT = {editor.quote_string(new.description or '')}")
    return plan.statements()


def _fills(plan: _Plan) -> None:
    """Give rows the migration's value before a column becomes NOT NULL; refuse to add a NOT
    NULL column nobody gave a value for to a table with rows."""
    editor, change, q = plan.editor, plan.change, plan.q
    table = q(change.new.name)
    for o, n in change.pairs():
        if o.null and not n.null and n.name in change.fills:
            fill = editor.fill_sql(change.fills[n.name], n.kind)
            plan.before.append(
                f"UPDATE {table} SET {q(o.name)} = {fill} WHERE {q(o.name)} IS NULL;"
            )
    for column in change.added():
        if (
            not column.null
            and not column.generated
            and column.db_default is NOT_PROVIDED
            and column.name not in change.fills
        ):
            plan.before.append(editor.rows_check(change.new.name, column.name))


def _recreated(plan: _Plan, o: Column, n: Column) -> bool:
    """Return whether the foreign key of a kept column is dropped and added again."""
    editor, change = plan.editor, plan.change
    assert o.reference is not None and n.reference is not None
    return (
        not _same_reference(change, o, n)
        or editor.reference_name(change.old, o) != editor.reference_name(change.new, n)
        or editor.column_type(o) != editor.column_type(n)
    )


def _foreign_keys(plan: _Plan) -> None:
    editor, change = plan.editor, plan.change
    old, new = change.old, change.new
    old_leading = leading_columns(old, change.translate)
    new_leading = leading_columns(new)
    for o, n in change.pairs():
        if o.reference is None:
            continue
        implicit = n.name not in old_leading
        if n.reference is None:
            plan.drop_keys.append(
                DropForeignKey(new.name, o.name, editor.reference_name(old, o), implicit)
            )
        elif _recreated(plan, o, n):
            covered = n.name in new_leading
            named = any(c.primary_key for c in new.columns)
            rename = implicit_index(editor, new, n) if implicit and named else None
            plan.drop_keys.append(
                DropForeignKey(
                    new.name, o.name, editor.reference_name(old, o), implicit and covered, rename
                )
            )
    for column in change.removed():
        if column.reference is not None:
            plan.drop_keys.append(
                DropForeignKey(new.name, column.name, editor.reference_name(old, column))
            )


def _drop_constraints(plan: _Plan) -> None:
    change, q = plan.change, plan.q
    old, new = change.old, change.new
    uniques = matched(
        [TableUnique(u.name, change.translate(u.columns)) for u in old.uniques],
        list(new.uniques),
        lambda u: u.columns,
    )
    indexes = matched(
        [change.translate_index(i) for i in old.indexes], list(new.indexes), _index_key
    )
    checks = matched(list(old.checks), list(new.checks), lambda c: (c.name, c.check))
    plan.clauses += [DropCheck(c.name) for c in checks[0]]
    plan.clauses += [f"DROP INDEX {q(u.name)}" for u in uniques[0]]
    plan.clauses += [f"DROP INDEX {q(i.name)}" for i in indexes[0]]
    for o, n in change.pairs():
        if o.unique and not n.unique:
            plan.clauses.append(f"DROP INDEX {q(o.name)}")
        if o.primary_key and not n.primary_key:
            plan.clauses.append("DROP PRIMARY KEY")
    plan.uniques, plan.indexes, plan.checks = uniques, indexes, checks


def _columns(plan: _Plan) -> None:
    editor, change, q = plan.editor, plan.change, plan.q
    table = q(change.new.name)
    for o, n in change.pairs():
        after = editor.column_definition(n, keys=False)
        if o.name != n.name:
            clause = f"CHANGE COLUMN {q(o.name)} {after}"
        elif editor.column_definition(o, keys=False) != after:
            clause = f"MODIFY COLUMN {after}"
        else:
            continue
        plan.clauses.append(clause)
        if editor.column_type(o) != editor.column_type(n) or o.generated != n.generated:
            plan.levels[clause] = COPY
        else:
            plan.levels[clause] = INPLACE if o.null != n.null else INSTANT
    for column in change.removed():
        plan.clauses.append(f"DROP COLUMN {q(column.name)}")
    for column in change.added():
        if column.name in change.fills:
            fill = editor.fill_sql(change.fills[column.name], column.kind)
            plan.clauses.append(f"ADD COLUMN {editor.column_definition(column, default=fill)}")
            modify = f"MODIFY COLUMN {editor.column_definition(column, keys=False)}"
            if editor.online:
                plan.after.append(AlterTable(change.new.name, (modify,), q, ALGORITHMS[INSTANT]))
            else:
                plan.after.append(f"ALTER TABLE {table} {modify};")
        else:
            plan.clauses.append(f"ADD COLUMN {editor.column_definition(column)}")


def _add_constraints(plan: _Plan) -> None:
    editor, change, q = plan.editor, plan.change, plan.q
    new = change.new
    for o, n in change.pairs():
        if n.primary_key and not o.primary_key:
            plan.clauses.append(f"ADD PRIMARY KEY ({q(n.name)})")
        if n.unique and not o.unique:
            plan.clauses.append(f"ADD UNIQUE KEY {q(n.name)} ({q(n.name)})")
        elif n.unique and o.unique and o.name != n.name:
            plan.clauses.append(f"RENAME INDEX {q(o.name)} TO {q(n.name)}")
    uniques, indexes, checks = plan.uniques, plan.indexes, plan.checks
    for kind_pairs in (uniques[2], indexes[2]):
        for a, b in kind_pairs:
            if a.name != b.name:
                plan.clauses.append(f"RENAME INDEX {q(a.name)} TO {q(b.name)}")
    plan.clauses += [
        f"ADD UNIQUE KEY {q(u.name)} ({editor.columns(u.columns)})" for u in uniques[1]
    ]
    plan.clauses += [f"ADD {editor.index_definition(i)}" for i in indexes[1]]
    plan.clauses += [f"ADD {editor.check_definition(c)}" for c in checks[1]]
    pairs = {n.name: o for o, n in change.pairs()}
    for column in new.columns:
        if column.reference is None:
            continue
        previous = pairs.get(column.name)
        if previous is None or previous.reference is None or _recreated(plan, previous, column):
            plan.clauses.append(f"ADD {editor.foreign_key_definition(new, column)}")


def _implicit_indexes(plan: _Plan) -> None:
    """Keep the index each foreign key needs named as ``generate_schemas()`` names it."""
    editor, change, q = plan.editor, plan.change, plan.q
    old, new = change.old, change.new
    old_leading = leading_columns(old, change.translate)
    new_leading = leading_columns(new)
    pairs = {n.name: o for o, n in change.pairs()}
    for column in new.columns:
        if column.reference is None:
            continue
        o = pairs.get(column.name)
        had = o is not None and o.reference is not None and column.name not in old_leading
        needs = column.name not in new_leading
        name = implicit_index(editor, new, column)
        if needs and not had:
            plan.clauses.append(f"ADD KEY {q(name)} ({q(column.name)})")
        elif needs and had and not any(c.primary_key for c in new.columns):
            # A through table's keys are unnamed; their indexes are named after the column.
            assert o is not None
            before = implicit_index(editor, old, o)
            if before != name:
                plan.clauses.append(f"RENAME INDEX {q(before)} TO {q(name)}")
        elif had and not needs and o is not None and not _recreated(plan, o, column):
            guess = implicit_index(editor, old, o)
            if any(c.primary_key for c in new.columns):
                plan.clauses.append(DropKeyIndex(new.name, column.name, guess))
            else:
                plan.clauses.append(f"DROP INDEX {q(guess)}")
