"""The Operation base class and the one helper every schema operation uses to reach the database.

An operation stores its arguments and has the same faces as Django's: ``state_forwards``,
``database_forwards``/``database_backwards`` (returning SQL statements, run by the executor one at a
time), ``describe``, ``deconstruct`` and ``reduce``. Rules live in the state; SQL in the backends.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

from ..backends.base import SchemaEditor
from ..backends.changes import TableChange
from ..schema.state import ModelState, ProjectState
from ..schema.tables import m2m_tables, model_tables, resolve_table

Ref = tuple[str, str | None]
"""What an operation reads or writes: ``(model label, field)``; field None means the whole model,
``""`` only its existence."""


class Footprint(NamedTuple):
    """The parts of the state an operation reads and writes (for the optimizer)."""

    reads: frozenset[Ref]
    writes: frozenset[Ref]


def _overlap(a: Ref, b: Ref) -> bool:
    return a[0] == b[0] and (a[1] is None or b[1] is None or a[1] == b[1])


def commutes(first: Operation, second: Operation, app: str) -> bool:
    """Return whether ``first`` and ``second`` may swap places (neither touches what the other
    writes). Operations with an unknown footprint (RunPython, RunSQL) never commute."""
    a, b = first.footprint(app), second.footprint(app)
    if a is None or b is None:
        return False
    return not any(_overlap(w, x) for w in a.writes for x in b.reads | b.writes) and not any(
        _overlap(w, x) for w in b.writes for x in a.reads
    )


Ignore = tuple[str, str]


def _with_ignore(init: Any) -> Any:
    @functools.wraps(init)
    def __init__(self: Operation, *args: Any, march_ignore: Any = (), **kwargs: Any) -> None:
        init(self, *args, **kwargs)
        if march_ignore:
            self.march_ignore = march_ignore

    return __init__


class Operation:
    """One step of a migration.

    Every operation also takes ``march_ignore=("rule-id", "why")`` (or a tuple of such pairs):
    the linter findings it silences, with the reason written next to them.
    """

    reversible: bool = True
    atomic: bool = True
    march_ignore: Ignore | tuple[Ignore, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _with_ignore(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def ignored_rules(self) -> dict[str, str]:
        """Return rule id -> reason for the linter findings this operation silences."""
        given: Any = self.march_ignore
        pairs = (given,) if given and isinstance(given[0], str) else given
        return {str(rule): str(why) for rule, why in pairs}

    def state_forwards(self, app: str, state: ProjectState) -> None:
        """Apply this operation to ``state`` in place."""
        raise NotImplementedError

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Return the statements that apply this operation."""
        raise NotImplementedError

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Return the statements that undo it (``to_state`` is the state after the operation)."""
        raise NotImplementedError

    def describe(self) -> str:
        """Return a one-line human description."""
        raise NotImplementedError

    @property
    def name_fragment(self) -> str:
        """Return the piece of a migration name this operation suggests."""
        raise NotImplementedError

    def deconstruct(self) -> tuple[str, dict[str, Any]]:
        """Return the class name and keyword arguments that rebuild this operation."""
        return type(self).__name__, dict(self.__dict__)

    def footprint(self, app: str) -> Footprint | None:
        """Return what this operation reads and writes; None when that is unknown."""
        return None

    def reduce(self, other: Operation, app: str) -> list[Operation] | bool:
        """Return what replaces ``self`` followed by ``other`` (a list) when they fold; else
        True when ``self`` may move past ``other``, False when it may not."""
        return commutes(self, other, app)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Operation) or type(self) is not type(other):
            return False
        return self.deconstruct() == other.deconstruct()

    def __repr__(self) -> str:
        name, kwargs = self.deconstruct()
        return f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def drop_false(name: str, kwargs: dict[str, Any], *keys: str) -> tuple[str, dict[str, Any]]:
    """Return ``(name, kwargs)`` without the flags in ``keys`` that are off (their default)."""
    return name, {k: v for k, v in kwargs.items() if k not in keys or v}


def sync_model(
    editor: SchemaEditor,
    before: tuple[ProjectState, ModelState | None],
    after: tuple[ProjectState, ModelState | None],
    *,
    renames: Mapping[str, str] | None = None,
    fills: Mapping[str, Any] | None = None,
    field_renames: Mapping[str, str] | None = None,
) -> list[str]:
    """Return the statements that turn one model's tables from ``before`` into ``after``.

    ``renames`` maps new column names to old ones, ``fills`` new column names to the value existing
    rows get, ``field_renames`` new field names to old ones (to pair ManyToMany through tables).
    """
    (old_state, old), (new_state, new) = before, after
    if old is None and new is None:
        return []
    if old is None:
        assert new is not None
        return [s for t in model_tables(new_state, new) for s in editor.create_table(t)]
    if new is None:
        tables = reversed(model_tables(old_state, old))
        return [s for t in tables for s in editor.drop_table(t)]
    change = TableChange(
        resolve_table(old_state, old),
        resolve_table(new_state, new),
        dict(renames or {}),
        dict(fills or {}),
    )
    out = editor.alter_table(change) if change.old != change.new or change.fills else []
    out += _sync_m2m(
        editor, m2m_tables(old_state, old), m2m_tables(new_state, new), field_renames or {}
    )
    return out


def _sync_m2m(
    editor: SchemaEditor, old: dict[str, Any], new: dict[str, Any], field_renames: Mapping[str, str]
) -> list[str]:
    out: list[str] = []
    paired = {field_renames.get(name, name) for name in new}
    for name, table in old.items():
        if name not in paired:
            out += editor.drop_table(table)
    for name, table in new.items():
        previous = old.get(field_renames.get(name, name))
        if previous is None:
            out += editor.create_table(table)
        elif previous != table:
            renames = {
                n.name: o.name
                for o, n in zip(previous.columns, table.columns, strict=True)
                if o.name != n.name
            }
            out += editor.alter_table(TableChange(previous, table, renames, {}))
    return out


class ModelOperation(Operation):
    """An operation that changes one model's tables; the database side is a table diff."""

    def names(self) -> tuple[str, str]:
        """Return the model's name before and after the operation."""
        name: str = self.__dict__.get("model") or self.__dict__["name"]
        return name, name

    def footprint(self, app: str) -> Footprint | None:
        """Return the whole model as written (table options may name any of its fields)."""
        return Footprint(frozenset(), frozenset((f"{app}.{n}", None) for n in self.names()))

    def renames(self, app: str, before: ProjectState, after: ProjectState) -> dict[str, str]:
        """Return new column name -> old column name for columns this operation renames."""
        return {}

    def field_renames(self) -> dict[str, str]:
        """Return new field name -> old field name for fields this operation renames."""
        return {}

    def fills(self, app: str, before: ProjectState, after: ProjectState) -> dict[str, Any]:
        """Return column -> value for rows that need a value in a new NOT NULL column."""
        return {}

    def database_forwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Return the statements that turn the model's tables into their new shape."""
        old_name, new_name = self.names()
        return sync_model(
            editor,
            (from_state, from_state.models.get((app, old_name))),
            (to_state, to_state.models.get((app, new_name))),
            renames=self.renames(app, from_state, to_state),
            fills=self.fills(app, from_state, to_state),
            field_renames=self.field_renames(),
        )

    def database_backwards(
        self, app: str, editor: SchemaEditor, from_state: ProjectState, to_state: ProjectState
    ) -> list[str]:
        """Return the statements that give the model's tables their old shape back."""
        old_name, new_name = self.names()
        renames = self.renames(app, from_state, to_state)
        return sync_model(
            editor,
            (to_state, to_state.models.get((app, new_name))),
            (from_state, from_state.models.get((app, old_name))),
            renames={old: new for new, old in renames.items()},
            fills=self.fills(app, to_state, from_state),
            field_renames={old: new for new, old in self.field_renames().items()},
        )
