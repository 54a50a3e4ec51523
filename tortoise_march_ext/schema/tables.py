"""Resolve model states into database tables: the only shape backends see.

A :class:`Table` is what one ``CREATE TABLE`` builds: columns with their concrete kind, references,
indexes, unique groups and constraints, all in database identifiers. Names Tortoise derives
(``idx_…``, ``uid_…``, ``uidx_…``) are derived here the same way, so a migrated database matches
``Tortoise.generate_schemas()`` name for name.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from hashlib import sha256
from typing import Any

from .state import (
    NOT_PROVIDED,
    ConstraintState,
    FieldRef,
    FieldState,
    IndexState,
    ModelState,
    ProjectState,
)


def derived_name(prefix: str, table: str, columns: tuple[str, ...] | list[str]) -> str:
    """Return Tortoise's deterministic index name: ``prefix_table[:11]_column[:7]_hash6``."""
    digest = sha256(";".join((table, *columns)).encode("utf-8")).hexdigest()[:6]
    return f"{prefix}_{table[:11]}_{columns[0][:7]}_{digest}"


@dataclass(frozen=True)
class Reference:
    """A foreign key target."""

    table: str
    column: str
    on_delete: str


@dataclass(frozen=True)
class Column:
    """One column with everything DDL needs; ``kind`` is the field kind that decides its type."""

    name: str
    kind: str
    null: bool = False
    primary_key: bool = False
    generated: bool = False
    unique: bool = False
    db_default: Any = NOT_PROVIDED
    description: str | None = None
    max_length: int | None = None
    max_digits: int | None = None
    decimal_places: int | None = None
    reference: Reference | None = None
    element_type: str | None = None  # ArrayField: the SQL type of one element
    # A generated TSVectorField: (source column, weight or None) and the text search config.
    vector: tuple[tuple[str, str | None], ...] = ()
    vector_config: str | None = None
    binary_compression: bool = False  # the MySQL UUIDField stored as BINARY(16)

    __hash__ = None  # type: ignore[assignment]

    def renamed(self, name: str) -> Column:
        """Return the same column under another name."""
        return replace(self, name=name)


@dataclass(frozen=True)
class TableIndex:
    """An index: over columns, or over raw SQL expressions."""

    name: str
    columns: tuple[str, ...] = ()
    expressions: tuple[str, ...] = ()
    unique: bool = False
    index_type: str = ""
    condition: str | None = None
    include: tuple[str, ...] = ()


@dataclass(frozen=True)
class TableUnique:
    """A named table-level UNIQUE constraint."""

    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class TableCheck:
    """A named CHECK constraint."""

    name: str
    check: str


@dataclass(frozen=True)
class TableExclusion:
    """A named EXCLUDE constraint: ``elements`` are (column or None, SQL or None, operator)."""

    name: str
    elements: tuple[tuple[str | None, str | None, str], ...]
    index_type: str = "gist"
    condition: str | None = None

    def translated(self, translate: Any) -> TableExclusion:
        """Return the constraint with its columns passed through ``translate`` (old -> new)."""
        elements = tuple(
            (translate((c,))[0] if c is not None else None, sql, op) for c, sql, op in self.elements
        )
        return replace(self, elements=elements)


@dataclass(frozen=True)
class Table:
    """One table as a ``CREATE TABLE`` would build it."""

    name: str
    columns: tuple[Column, ...]
    indexes: tuple[TableIndex, ...] = ()
    uniques: tuple[TableUnique, ...] = ()
    checks: tuple[TableCheck, ...] = ()
    description: str | None = None
    exclusions: tuple[TableExclusion, ...] = ()

    __hash__ = None  # type: ignore[assignment]

    def column(self, name: str) -> Column:
        """Return the column ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        """Return the column names in order."""
        return tuple(c.name for c in self.columns)

    @property
    def references(self) -> set[str]:
        """Return the tables this table's foreign keys point at."""
        return {c.reference.table for c in self.columns if c.reference}


def resolve_column(state: ProjectState, model: ModelState, name: str, field: FieldState) -> Column:
    """Return the column field ``name`` of ``model`` stores into."""
    column = field.column(name)
    common = {
        "name": column,
        "null": field.null,
        "unique": field.unique and not field.primary_key,
        "db_default": field.db_default,
        "description": field.description,
        "primary_key": field.primary_key,
    }
    if not field.is_fk:
        return Column(
            kind=field.kind,
            generated=field.generated and field.primary_key,
            max_length=field.max_length,
            max_digits=field.max_digits,
            decimal_places=field.decimal_places,
            **common,
            **_contrib_column(model, field),
        )
    target_model, target_name, target = _fk_target(state, field)
    target_column = resolve_column(state, target_model, target_name, target)
    reference = None
    if field.db_constraint:
        reference = Reference(target_model.table, target_column.name, field.on_delete)
    return Column(
        kind=target_column.kind,
        max_length=target_column.max_length,
        max_digits=target_column.max_digits,
        decimal_places=target_column.decimal_places,
        reference=reference,
        **common,
    )


def _contrib_column(model: ModelState, field: FieldState) -> dict[str, Any]:
    """Return the Column options of a tortoise.contrib field (nothing for the others)."""
    options: dict[str, Any] = {
        "element_type": field.element_type,
        "binary_compression": field.binary_compression,
    }
    if field.kind == "TSVectorField" and field.generated:
        weights = field.weights or (None,) * len(field.source_fields)
        columns = (model.column_of(name) for name in field.source_fields)
        options["vector"] = tuple(zip(columns, weights, strict=True))
        options["vector_config"] = field.config
    return options


def _fk_target(state: ProjectState, field: FieldState) -> tuple[ModelState, str, FieldState]:
    target_model = state.resolve(field.to or "")
    target_name = field.to_field or target_model.pk_name
    return target_model, target_name, target_model.get_field(target_name)


def index_name(model: ModelState, index: IndexState) -> str:
    """Return the name of ``index``: its own, or the one Tortoise derives from table and columns."""
    if index.name:
        return index.name
    parts = tuple(model.column_of(f) for f in index.fields) or index.expressions
    return derived_name("idx", model.table, parts)


def _field_indexes(model: ModelState) -> list[TableIndex]:
    indexes = []
    for name, field in model.fields:
        if field.db_index and not field.primary_key and not field.is_m2m:
            column = field.column(name)
            indexes.append(TableIndex(derived_name("idx", model.table, [column]), (column,)))
    for index in model.indexes:
        columns = tuple(model.column_of(f) for f in index.fields)
        indexes.append(
            TableIndex(
                name=index_name(model, index),
                columns=columns,
                expressions=index.expressions,
                index_type=index.index_type,
                condition=index.condition,
                include=tuple(model.column_of(f) for f in index.include),
            )
        )
    for constraint in model.constraints:
        if constraint.kind == "unique" and constraint.condition:
            columns = tuple(model.column_of(f) for f in constraint.fields)
            indexes.append(
                TableIndex(constraint.name, columns, unique=True, condition=constraint.condition)
            )
    return list(dict.fromkeys(indexes))


def resolve_table(state: ProjectState, model: ModelState) -> Table:
    """Return the main table of ``model``."""
    columns = tuple(
        resolve_column(state, model, name, field)
        for name, field in model.fields
        if not field.is_m2m
    )
    uniques = [
        TableUnique(derived_name("uid", model.table, cols), cols)
        for cols in (tuple(model.column_of(f) for f in group) for group in model.unique_together)
    ]
    checks, exclusions = [], []
    for constraint in model.constraints:
        if constraint.kind == "check":
            checks.append(TableCheck(constraint.name, constraint.check or ""))
        elif constraint.kind == "exclusion":
            exclusions.append(_exclusion(model, constraint))
        elif not constraint.condition:
            cols = tuple(model.column_of(f) for f in constraint.fields)
            uniques.append(TableUnique(constraint.name, cols))
    return Table(
        name=model.table,
        columns=columns,
        indexes=tuple(_field_indexes(model)),
        uniques=tuple(uniques),
        checks=tuple(checks),
        description=model.description,
        exclusions=tuple(exclusions),
    )


def _exclusion(model: ModelState, constraint: ConstraintState) -> TableExclusion:
    elements = tuple(
        (model.column_of(e.name), None, op) if isinstance(e, FieldRef) else (None, e.sql, op)
        for e, op in constraint.expressions
    )
    return TableExclusion(
        constraint.name, elements, constraint.index_type or "gist", constraint.condition
    )


def resolve_m2m_table(state: ProjectState, model: ModelState, field: FieldState) -> Table:
    """Return the through table an auto ManyToMany field builds."""
    target = state.resolve(field.to or "")
    own_pk = resolve_column(state, model, model.pk_name, model.get_field(model.pk_name))
    target_pk = resolve_column(state, target, target.pk_name, target.get_field(target.pk_name))
    backward, forward = field.backward_key or "", field.forward_key or ""
    columns = tuple(
        Column(
            name=key,
            kind=pk.kind,
            max_length=pk.max_length,
            max_digits=pk.max_digits,
            decimal_places=pk.decimal_places,
            reference=Reference(table, pk.name, field.on_delete) if field.db_constraint else None,
        )
        for key, pk, table in ((backward, own_pk, model.table), (forward, target_pk, target.table))
    )
    through = field.through or ""
    indexes: tuple[TableIndex, ...] = ()
    if field.unique:
        name = derived_name("uidx", through, [backward, forward])
        indexes = (TableIndex(name, (backward, forward), unique=True),)
    return Table(through, columns, indexes=indexes, description=field.description)


def model_tables(state: ProjectState, model: ModelState) -> list[Table]:
    """Return the main table of ``model`` followed by the through tables it owns."""
    return [resolve_table(state, model), *m2m_tables(state, model).values()]


def m2m_tables(state: ProjectState, model: ModelState) -> dict[str, Table]:
    """Return the auto through tables ``model`` owns, keyed by field name.

    A ManyToMany whose ``through`` is the table of a tracked model owns no table: that model does.
    """
    model_tables_in_state = {m.table for m in state.models.values()}
    return {
        name: resolve_m2m_table(state, model, field)
        for name, field in model.fields
        if field.is_m2m and field.through not in model_tables_in_state
    }
