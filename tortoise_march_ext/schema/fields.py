"""Frozen field, index and constraint values as migration files write them.

``fields.CharField(max_length=100, default="")`` reads like the Tortoise call users know but builds
our own :class:`FieldState`, so an old migration never depends on today's model classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .. import declare
from .state import (
    NOT_PROVIDED,
    ConstraintState,
    FieldRef,
    FieldState,
    IndexState,
    RawSQL,
    SqlDefault,
    make_field,
)

DATA_KINDS = (
    "IntField",
    "BigIntField",
    "SmallIntField",
    "CharField",
    "TextField",
    "BooleanField",
    "DecimalField",
    "FloatField",
    "DateField",
    "DatetimeField",
    "TimeField",
    "TimeDeltaField",
    "UUIDField",
    "JSONField",
    "BinaryField",
    "CharEnumField",
    "IntEnumField",
)
RELATION_KINDS = ("ForeignKeyField", "OneToOneField", "ManyToManyField")
# tortoise.contrib.postgres (ArrayField, TSVectorField) and tortoise.contrib.mysql
# (GeometryField, and its UUIDField, here MySQLUUIDField so that it differs from the plain one).
CONTRIB_KINDS = ("ArrayField", "TSVectorField", "GeometryField", "MySQLUUIDField")

__all__ = [
    *DATA_KINDS,
    *RELATION_KINDS,
    *CONTRIB_KINDS,
    "NOT_PROVIDED",
    "FieldState",
    "SqlDefault",
    "Now",
    "RandomHex",
    "Index",
    "UniqueConstraint",
    "CheckConstraint",
    "ExclusionConstraint",
    "FieldRef",
    "RawSQL",
]


class _DataField:
    """A callable that builds the frozen state of one Tortoise data field kind."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __call__(self, **kwargs: Any) -> FieldState:
        return make_field(self.kind, **kwargs)

    def __repr__(self) -> str:
        return f"fields.{self.kind}"


class _RelationField(_DataField):
    """A callable that builds a relation field's state; the target model comes first."""

    def __call__(self, to: str, /, **kwargs: Any) -> FieldState:  # type: ignore[override]
        return make_field(self.kind, to=to, **kwargs)


IntField = _DataField("IntField")
BigIntField = _DataField("BigIntField")
SmallIntField = _DataField("SmallIntField")
CharField = _DataField("CharField")
TextField = _DataField("TextField")
BooleanField = _DataField("BooleanField")
DecimalField = _DataField("DecimalField")
FloatField = _DataField("FloatField")
DateField = _DataField("DateField")
DatetimeField = _DataField("DatetimeField")
TimeField = _DataField("TimeField")
TimeDeltaField = _DataField("TimeDeltaField")
UUIDField = _DataField("UUIDField")
JSONField = _DataField("JSONField")
BinaryField = _DataField("BinaryField")
CharEnumField = _DataField("CharEnumField")
IntEnumField = _DataField("IntEnumField")
ArrayField = _DataField("ArrayField")
TSVectorField = _DataField("TSVectorField")
GeometryField = _DataField("GeometryField")
MySQLUUIDField = _DataField("MySQLUUIDField")
ForeignKeyField = _RelationField("ForeignKeyField")
OneToOneField = _RelationField("OneToOneField")
ManyToManyField = _RelationField("ManyToManyField")


def Now() -> SqlDefault:  # noqa: N802 - mirrors tortoise.fields.db_defaults.Now
    """Return the database default ``CURRENT_TIMESTAMP`` (``CURRENT_TIMESTAMP(6)`` on MySQL)."""
    return SqlDefault("CURRENT_TIMESTAMP", (("mysql", "CURRENT_TIMESTAMP(6)"),))


def RandomHex() -> SqlDefault:  # noqa: N802 - mirrors tortoise.fields.db_defaults.RandomHex
    """Return a database default that generates a random 32-character hex string."""
    return SqlDefault(
        "md5(random()::text)",
        (
            ("mysql", "(LOWER(HEX(RANDOM_BYTES(16))))"),
            ("sqlite", "(lower(hex(randomblob(16))))"),
        ),
    )


def Index(  # noqa: N802 - reads like tortoise.indexes.Index
    *,
    fields: Sequence[str] = (),
    expressions: Sequence[str] = (),
    name: str | None = None,
    index_type: str = "",
    condition: str | None = None,
    include: Sequence[str] = (),
) -> IndexState:
    """Return an index over ``fields`` (Python names) or raw SQL ``expressions``; ``include``
    fields are stored in the index without being searched on (PostgreSQL covering index)."""
    return IndexState(
        tuple(fields), tuple(expressions), name, index_type, condition, tuple(include)
    )


def UniqueConstraint(  # noqa: N802
    *, fields: Sequence[str], name: str, condition: str | None = None
) -> ConstraintState:
    """Return a unique constraint; with ``condition`` it becomes a partial unique index."""
    return ConstraintState("unique", name, tuple(fields), condition=condition)


def CheckConstraint(*, check: str, name: str) -> ConstraintState:  # noqa: N802
    """Return a CHECK constraint with the SQL expression ``check``."""
    return ConstraintState("check", name, check=check)


def ExclusionConstraint(  # noqa: N802
    *,
    expressions: Sequence[tuple[FieldRef | RawSQL, str]],
    name: str,
    index_type: str = "gist",
    condition: str | None = None,
) -> ConstraintState:
    """Return a PostgreSQL exclusion constraint over ``(FieldRef | RawSQL, operator)`` pairs,
    checked as ``march.ExclusionConstraint`` checks them."""
    declared = declare.ExclusionConstraint(
        expressions=expressions, name=name, index_type=index_type, condition=condition
    )
    return ConstraintState(
        "exclusion",
        name,
        condition=condition,
        expressions=declared.expressions,
        index_type=declared.index_type,
    )
