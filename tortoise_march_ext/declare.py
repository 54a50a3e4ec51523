"""What models declare beyond Tortoise's own Meta options.

``Meta.march_constraints`` takes :class:`UniqueConstraint` (partial unique with ``condition``) and
:class:`ExclusionConstraint` (PostgreSQL ``EXCLUDE``, written with :class:`FieldRef` and
:class:`RawSQL`); ``Meta.march_extensions`` takes :class:`PostgresExtension`; ``Meta.indexes``
takes :class:`Index`, Tortoise's index with an index type, a condition and INCLUDE columns.
These are what users write; :mod:`.schema.extract` turns them into the frozen state.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tortoise.indexes import Index as TortoiseIndex

from .exceptions import StateError
from .schema.state import FieldRef, RawSQL

if TYPE_CHECKING:
    from tortoise.backends.base.schema_generator import BaseSchemaGenerator
    from tortoise.models import Model

__all__ = [
    "ExclusionConstraint",
    "FieldRef",
    "Index",
    "PostgresExtension",
    "RawSQL",
    "UniqueConstraint",
]

INDEX_TYPES = ("BTREE", "HASH", "GIN", "GIST", "BRIN", "SPGIST", "BLOOM")
EXCLUSION_INDEX_TYPES = ("gist", "spgist", "btree", "hash")
_OPERATOR = re.compile(r"^(?:[-+*/<>=~!@#%^&|`?]+|OPERATOR\([\w.]+\s*[-+*/<>=~!@#%^&|`?]+\))$")
_EXTENSION = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _names(value: Any, what: str) -> tuple[str, ...]:
    if isinstance(value, str) or not all(isinstance(v, str) and v for v in value or ()):
        raise StateError(f"{what} must be a tuple of field names, got {value!r}")
    return tuple(value)


class UniqueConstraint:
    """A unique constraint over ``fields``; with ``condition`` (SQL) a partial unique index.

    Without ``name`` it is named ``uniq_<table>_<column>_<hash>``, as Tortoise names its own.
    """

    def __init__(
        self, *, fields: Sequence[str], name: str | None = None, condition: str | None = None
    ) -> None:
        self.fields = _names(fields, "march.UniqueConstraint(fields=...)")
        if not self.fields:
            raise StateError("march.UniqueConstraint needs at least one field")
        self.name = name
        self.condition = condition

    def __repr__(self) -> str:
        return f"march.UniqueConstraint(fields={self.fields!r}, name={self.name!r})"


class ExclusionConstraint:
    """A PostgreSQL exclusion constraint: no two rows may match on every ``(expression,
    operator)`` pair. An expression is a :class:`FieldRef` (or a field name) or :class:`RawSQL`.

    Without ``name`` it is named ``excl_<table>_<column>_<hash>`` from its whole definition.
    """

    def __init__(
        self,
        *,
        expressions: Sequence[tuple[FieldRef | RawSQL | str, str]],
        name: str | None = None,
        index_type: str = "gist",
        condition: str | None = None,
    ) -> None:
        pairs: list[tuple[FieldRef | RawSQL, str]] = []
        for item in expressions:
            if not (isinstance(item, (tuple, list)) and len(item) == 2):
                raise StateError(
                    f"march.ExclusionConstraint: {item!r} is not an (expression, operator) pair"
                )
            expression, operator = item
            if isinstance(expression, str):
                expression = FieldRef(expression)
            if not isinstance(expression, (FieldRef, RawSQL)):
                raise StateError(
                    f"march.ExclusionConstraint: {expression!r} is neither march.FieldRef "
                    "nor march.RawSQL"
                )
            if not (isinstance(operator, str) and _OPERATOR.match(operator.strip())):
                raise StateError(
                    f"march.ExclusionConstraint: {operator!r} is not an SQL operator "
                    "(write it like '=' or '&&')"
                )
            pairs.append((expression, operator.strip()))
        if not pairs:
            raise StateError("march.ExclusionConstraint needs at least one (expression, operator)")
        if index_type.lower() not in EXCLUSION_INDEX_TYPES:
            raise StateError(
                f"march.ExclusionConstraint: index_type {index_type!r} is not one of "
                + ", ".join(EXCLUSION_INDEX_TYPES)
            )
        self.expressions = tuple(pairs)
        self.name = name
        self.index_type = index_type.lower()
        self.condition = condition

    def __repr__(self) -> str:
        return f"march.ExclusionConstraint(expressions={self.expressions!r}, name={self.name!r})"


class PostgresExtension:
    """A PostgreSQL extension the model needs (``CREATE EXTENSION IF NOT EXISTS``)."""

    def __init__(self, name: str) -> None:
        if not (isinstance(name, str) and _EXTENSION.match(name)):
            raise StateError(f"march.PostgresExtension: {name!r} is not an extension name")
        self.name = name

    def __repr__(self) -> str:
        return f"march.PostgresExtension({self.name!r})"


class Index(TortoiseIndex):
    """Tortoise's ``Index`` with an ``index_type`` (btree, hash, gin, gist, brin, spgist,
    bloom), a partial-index ``condition`` (SQL) and ``include`` fields (a covering index on
    PostgreSQL; other backends build the index without them)."""

    def __init__(
        self,
        *expressions: Any,
        fields: Sequence[str] | None = None,
        name: str | None = None,
        index_type: str = "",
        condition: str | None = None,
        include: Sequence[str] = (),
    ) -> None:
        super().__init__(*expressions, fields=None if fields is None else tuple(fields), name=name)
        if index_type and index_type.upper() not in INDEX_TYPES:
            raise StateError(
                f"march.Index: index_type {index_type!r} is not one of "
                + ", ".join(t.lower() for t in INDEX_TYPES)
            )
        self.INDEX_TYPE = index_type.upper()
        self.condition = condition
        self.include = _names(include, "march.Index(include=...)")
        self.extra = f" WHERE {condition}" if condition else ""

    def get_sql(self, schema_generator: BaseSchemaGenerator, model: type[Model], safe: bool) -> str:
        """Return Tortoise's CREATE INDEX; on PostgreSQL with the method and INCLUDE (before the
        condition), elsewhere as a plain index with the condition."""
        self.resolve_expressions(model)
        extra = self.extra
        postgres = schema_generator.DIALECT == "postgres"
        if self.include and postgres:
            projection = model._meta.fields_db_projection
            columns = [projection.get(f) or projection.get(f"{f}_id", f) for f in self.include]
            include = schema_generator._format_index_fields(columns)
            extra = f" INCLUDE ({include}){extra}"
        return schema_generator._get_index_sql(
            model,
            self.field_names,
            safe,
            index_name=self.name,
            index_type=self.INDEX_TYPE if postgres else "",
            extra=extra,
        )
