"""Changing a PostgreSQL table in place: ALTER TABLE, renames of the names PostgreSQL derives,
and COMMENT ON statements.

Names PostgreSQL picks for inline constraints (``t_c_key``, ``t_c_fkey``, ``t_pkey``, ``t_c_seq``)
are derived the way PostgreSQL derives them, so a change can address them without a query and a
rename keeps them equal to what a fresh ``generate_schemas()`` would create.
"""

from __future__ import annotations

from typing import Any

from ..schema.state import NOT_PROVIDED
from ..schema.tables import Column, TableIndex
from .base import SchemaEditor
from .changes import TableChange, matched
from .names import pg_name


class PostgresAlter(SchemaEditor):
    """The ALTER TABLE half of :class:`~.postgres.PostgresEditor`."""

    def comment_literal(self, text: str | None) -> str:
        """Return a comment literal escaped as Tortoise's generate_schemas escapes it.

        Tortoise escapes backslashes and control characters MySQL-style inside a standard string,
        so a newline is stored as the two characters ``\\n``; we do the same so that a migrated
        database carries exactly the comments ``generate_schemas()`` would write.
        """
        if not text:
            return "NULL"
        table = {"\0": "\\0", "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\032": "\\Z", '"': '\\"'}
        return self.quote_string("".join(table.get(ch, ch) for ch in text))

    def table_comment(self, table: str, text: str | None) -> str:
        """Return COMMENT ON TABLE."""
        value = self.comment_literal(text)
        return f"COMMENT ON TABLE {self.quote(table)} IS {value};"

    def column_comment(self, table: str, column: str, text: str | None) -> str:
        """Return COMMENT ON COLUMN."""
        value = self.comment_literal(text)
        return f"COMMENT ON COLUMN {self.quote(table)}.{self.quote(column)} IS {value};"

    # -- alter --------------------------------------------------------------------------------
    def alter_table(self, change: TableChange) -> list[str]:
        """Return ALTER statements that turn the old table into the new one in place."""
        old, new = change.old, change.new
        out: list[str] = []
        if old.name != new.name:
            out.append(f"ALTER TABLE {self.quote(old.name)} RENAME TO {self.quote(new.name)};")
            if any(c.primary_key for c in old.columns):
                out += self._rename_constraint(
                    new.name, pg_name(old.name, None, "pkey"), pg_name(new.name, None, "pkey")
                )
        translated = [change.translate_index(i) for i in old.indexes]
        indexes = _rebuilding(
            matched(translated, list(new.indexes), _index_key), _regenerated(change)
        )
        uniques = matched(
            [u.__class__(u.name, change.translate(u.columns)) for u in old.uniques],
            list(new.uniques),
            lambda u: u.columns,
        )
        checks = matched(list(old.checks), list(new.checks), lambda c: c.check)
        exclusions = matched(
            [x.translated(change.translate) for x in old.exclusions],
            list(new.exclusions),
            lambda x: (x.elements, x.index_type, x.condition),
        )
        out += [
            f"ALTER TABLE {self.quote(new.name)} DROP CONSTRAINT {self.quote(c.name)};"
            for c in (*checks[0], *exclusions[0])
        ]
        out += [
            f"ALTER TABLE {self.quote(new.name)} DROP CONSTRAINT {self.quote(u.name)};"
            for u in uniques[0]
        ]
        out += [self.drop_index(new.name, i) for i in indexes[0]]
        pairs = change.pairs()
        for o, n in pairs:
            out += self._rename_column(change, o, n)
        for column in change.removed():
            out.append(f"ALTER TABLE {self.quote(new.name)} DROP COLUMN {self.quote(column.name)};")
        for o, n in pairs:
            out += self._alter_column(change, o, n)
        for column in change.added():
            out += self._add_column(new.name, column, change.fills)
        for kind, (_, _, pairs_) in (
            ("INDEX", indexes),
            ("CONSTRAINT", uniques),
            ("CONSTRAINT", checks),
            ("CONSTRAINT", exclusions),
        ):
            for a, b in pairs_:
                if a.name != b.name:
                    out += self._rename(kind, new.name, a.name, b.name)
        out += [self._add_constraint(new.name, self.check_definition(c)) for c in checks[1]]
        out += [self._add_constraint(new.name, self.unique_definition(u)) for u in uniques[1]]
        out += [self.create_index(new.name, i) for i in indexes[1]]
        out += [self._add_constraint(new.name, self.exclusion_definition(x)) for x in exclusions[1]]
        if old.description != new.description:
            out.append(self.table_comment(new.name, new.description))
        return out

    def _rename(self, kind: str, table: str, old: str, new: str) -> list[str]:
        if kind == "INDEX":
            return [f"ALTER INDEX {self.quote(old)} RENAME TO {self.quote(new)};"]
        return self._rename_constraint(table, old, new)

    def _rename_constraint(self, table: str, old: str, new: str) -> list[str]:
        if old == new:
            return []
        return [
            f"ALTER TABLE {self.quote(table)} RENAME CONSTRAINT {self.quote(old)} "
            f"TO {self.quote(new)};"
        ]

    def _add_constraint(self, table: str, definition: str) -> str:
        return f"ALTER TABLE {self.quote(table)} ADD {definition};"

    def _rename_column(self, change: TableChange, o: Column, n: Column) -> list[str]:
        old_t, new_t = change.old.name, change.new.name
        out = []
        if o.name != n.name:
            out.append(
                f"ALTER TABLE {self.quote(new_t)} RENAME COLUMN {self.quote(o.name)} "
                f"TO {self.quote(n.name)};"
            )
        for label in ("key", "fkey"):
            if _carries(o, n, label):
                out += self._rename_constraint(
                    new_t, pg_name(old_t, o.name, label), pg_name(new_t, n.name, label)
                )
        old_seq, new_seq = pg_name(old_t, o.name, "seq"), pg_name(new_t, n.name, "seq")
        if _carries(o, n, "seq") and old_seq != new_seq:
            out.append(f"ALTER SEQUENCE {self.quote(old_seq)} RENAME TO {self.quote(new_seq)};")
        return out

    def _same_reference(self, change: TableChange, o: Column, n: Column) -> bool:
        if o.reference is None or n.reference is None:
            return o.reference == n.reference
        old_target = change.new.name if o.reference.table == change.old.name else o.reference.table
        return (old_target, o.reference.column, o.reference.on_delete) == (
            n.reference.table,
            n.reference.column,
            n.reference.on_delete,
        )

    def _drop_constraint(self, table: str, name: str) -> str:
        return f"ALTER TABLE {self.quote(table)} DROP CONSTRAINT {self.quote(name)};"

    def _alter_column(self, change: TableChange, o: Column, n: Column) -> list[str]:
        name = change.new.name
        table, col = self.quote(name), self.quote(n.name)
        alter = f"ALTER TABLE {table} ALTER COLUMN {col}"
        if n.name in _regenerated(change):
            return self._regenerate(name, n)
        reference_changed = not self._same_reference(change, o, n)
        out = []
        if o.vector and not n.vector:
            out.append(f"{alter} DROP EXPRESSION;")
        if reference_changed and o.reference:
            out.append(self._drop_constraint(name, _current_name(change, o, n, "fkey")))
        if o.unique and not n.unique:
            out.append(self._drop_constraint(name, _current_name(change, o, n, "key")))
        if o.primary_key and not n.primary_key:
            out.append(self._drop_constraint(name, pg_name(name, None, "pkey")))
        if o.generated and not n.generated:
            out.append(f"{alter} DROP DEFAULT;")
            out.append(f"DROP SEQUENCE {self.quote(_current_name(change, o, n, 'seq'))};")
        new_type = self.column_type(n)
        if self.column_type(o) != new_type:
            out.append(f"{alter} TYPE {new_type} USING {col}::{new_type};")
        if n.generated and not o.generated:
            out += self._make_serial(name, n)
        if not n.generated and o.db_default != n.db_default:
            if n.db_default is NOT_PROVIDED:
                out.append(f"{alter} DROP DEFAULT;")
            else:
                out.append(f"{alter} SET DEFAULT {self.default_sql(n)};")
        if o.null and not n.null and n.name in change.fills:
            fill = self.fill_sql(change.fills[n.name], n.kind)
            out.append(f"UPDATE {table} SET {col} = {fill} WHERE {col} IS NULL;")
        if o.null != n.null and not (n.primary_key and not o.primary_key):
            out.append(f"{alter} {'DROP' if n.null else 'SET'} NOT NULL;")
        if n.primary_key and not o.primary_key:
            pkey = self.quote(pg_name(name, None, "pkey"))
            out.append(self._add_constraint(name, f"CONSTRAINT {pkey} PRIMARY KEY ({col})"))
        if n.unique and not o.unique:
            key = self.quote(pg_name(name, n.name, "key"))
            out.append(self._add_constraint(name, f"CONSTRAINT {key} UNIQUE ({col})"))
        if reference_changed and n.reference:
            out.append(self._add_fk(name, n))
        if o.description != n.description:
            out.append(self.column_comment(name, n.name, n.description))
        return out

    def _regenerate(self, table: str, column: Column) -> list[str]:
        """Return DROP and ADD COLUMN for a column whose generation expression changes
        (PostgreSQL before 17 cannot alter one); its values are derived, so none are lost."""
        quoted = self.quote(table)
        out = [
            f"ALTER TABLE {quoted} DROP COLUMN {self.quote(column.name)};",
            f"ALTER TABLE {quoted} ADD COLUMN {self.column_sql(column)};",
        ]
        if column.description:
            out.append(self.column_comment(table, column.name, column.description))
        return out

    def _make_serial(self, table: str, column: Column) -> list[str]:
        seq = self.quote(pg_name(table, column.name, "seq"))
        seq_text = self.quote_string(seq)
        col, quoted = self.quote(column.name), self.quote(table)
        return [
            f"CREATE SEQUENCE {seq} AS {self.column_type(column)} OWNED BY {quoted}.{col};",
            f"ALTER TABLE {quoted} ALTER COLUMN {col} SET DEFAULT nextval({seq_text}::regclass);",
            f"SELECT setval({seq_text}, COALESCE(MAX({col}), 0) + 1, false) FROM {quoted};",
        ]

    def _add_fk(self, table: str, column: Column) -> str:
        ref = column.reference
        assert ref is not None
        name = self.quote(pg_name(table, column.name, "fkey"))
        return (
            f"ALTER TABLE {self.quote(table)} ADD CONSTRAINT {name} FOREIGN KEY "
            f"({self.quote(column.name)}) REFERENCES {self.quote(ref.table)} "
            f"({self.quote(ref.column)}) ON DELETE {ref.on_delete};"
        )

    def _add_column(self, table: str, column: Column, fills: dict[str, Any]) -> list[str]:
        if column.name not in fills:
            out = [f"ALTER TABLE {self.quote(table)} ADD COLUMN {self.column_sql(column)};"]
        else:
            fill = self.fill_sql(fills[column.name], column.kind)
            out = [
                f"ALTER TABLE {self.quote(table)} ADD COLUMN "
                f"{self.column_sql(column, default=fill)};"
            ]
            alter = f"ALTER TABLE {self.quote(table)} ALTER COLUMN {self.quote(column.name)}"
            if column.db_default is NOT_PROVIDED:
                out.append(f"{alter} DROP DEFAULT;")
            else:
                out.append(f"{alter} SET DEFAULT {self.default_sql(column)};")
        if column.description:
            out.append(self.column_comment(table, column.name, column.description))
        return out


def _carries(old: Column, new: Column, label: str) -> bool:
    """Return whether the implicit ``label`` object (``key``, ``fkey``, ``seq``) of a column is
    kept through a change, and so renamed with the column and table, rather than dropped."""
    if label == "key":
        return old.unique and new.unique
    if label == "fkey":
        return old.reference is not None and new.reference is not None
    return old.generated and new.generated


def _current_name(change: TableChange, old: Column, new: Column, label: str) -> str:
    """Return the name the implicit ``label`` object of column ``old`` has once the renames of
    ``change`` ran: renamed after the new table and column when it is kept, else still named
    after the old ones (PostgreSQL does not rename them with the column or the table)."""
    if _carries(old, new, label):
        return pg_name(change.new.name, new.name, label)
    return pg_name(change.old.name, old.name, label)


def _regenerated(change: TableChange) -> set[str]:
    """Return the new names of the columns that become generated, or are generated another way."""
    return {n.name for o, n in change.pairs() if n.vector and o.vector != n.vector}


def _rebuilding(
    indexes: tuple[list[Any], list[Any], list[Any]], columns: set[str]
) -> tuple[list[Any], list[Any], list[Any]]:
    """Move the kept indexes over ``columns`` (dropped and added again) to removed and added."""
    removed, added, pairs = indexes
    moved = [(a, b) for a, b in pairs if columns & {*a.columns, *b.columns}]
    kept = [pair for pair in pairs if pair not in moved]
    return removed + [a for a, _ in moved], added + [b for _, b in moved], kept


def _index_key(index: TableIndex) -> tuple[Any, ...]:
    return (
        index.columns,
        index.expressions,
        index.unique,
        index.index_type,
        index.condition,
        index.include,
    )
