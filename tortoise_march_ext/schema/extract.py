"""Build a ProjectState from initialised Tortoise models.

This is the only module that reads Tortoise internals (``Model._meta``, field instances). Everything
downstream sees only the frozen value objects of :mod:`.state`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any

from tortoise.contrib.mysql import fields as mysql_fields
from tortoise.contrib.postgres import fields as pg_fields
from tortoise.fields import Field
from tortoise.fields.data import CharEnumFieldInstance, IntEnumFieldInstance
from tortoise.fields.db_defaults import Now as TortoiseNow
from tortoise.fields.db_defaults import RandomHex as TortoiseRandomHex
from tortoise.fields.db_defaults import SqlDefault as TortoiseSqlDefault
from tortoise.fields.relational import (
    ManyToManyFieldInstance,
    OneToOneFieldInstance,
)
from tortoise.indexes import Index
from tortoise.migrations.constraints import CheckConstraint, UniqueConstraint
from tortoise.models import Model

from .. import declare
from ..exceptions import StateError
from ..meta import is_tracked
from . import fields as frozen
from .state import (
    NOT_PROVIDED,
    ConstraintState,
    FieldRef,
    FieldState,
    IndexState,
    ModelState,
    ProjectState,
    SqlDefault,
    callable_ref,
)
from .tables import derived_name

DATA_KIND_NAMES = frozenset(frozen.DATA_KINDS)
# Checked before the class names: the MySQL UUIDField is called UUIDField too.
CONTRIB_KINDS: tuple[tuple[type[Field[Any]], str], ...] = (
    (pg_fields.ArrayField, "ArrayField"),
    (pg_fields.TSVectorField, "TSVectorField"),
    (mysql_fields.GeometryField, "GeometryField"),
    (mysql_fields.UUIDField, "MySQLUUIDField"),
)


def extract_state(
    apps: Mapping[str, Mapping[str, type[Model]]], *, track: str = "meta"
) -> ProjectState:
    """Return the state of every tracked model in ``apps`` ({app: {name: model class}})."""
    state = ProjectState()
    for app_label in sorted(apps):
        for model in apps[app_label].values():
            if model._meta.abstract or (track == "meta" and not is_tracked(model)):
                continue
            state.add_model(extract_model(app_label, model))
            state.extensions |= {(app_label, name) for name in _extensions(model)}
    _check_relations(state)
    return state


def extract_model(app_label: str, model: type[Model]) -> ModelState:
    """Return the ModelState of one initialised Tortoise model."""
    meta = model._meta
    if meta.schema:
        raise StateError(
            f"{meta.full_name}: Meta.schema = {meta.schema!r} is not supported yet; "
            "keep the model in the connection's default schema"
        )
    declared = getattr(getattr(model, "Meta", None), "march_constraints", ()) or ()
    state = ModelState(
        app=app_label,
        name=model.__name__,
        table=meta.db_table,
        fields=tuple(_fields(model)),
        unique_together=tuple(tuple(group) for group in meta.unique_together),
        description=meta.table_description or None,
    )
    state = state.with_changes(
        indexes=tuple(_index(model, state, index) for index in meta.indexes),
        constraints=tuple(_constraint(model, state, c) for c in (*meta.constraints, *declared)),
    )
    items: tuple[IndexState | ConstraintState, ...] = (*state.indexes, *state.constraints)
    for item in items:
        state.check_names(item)
    names = [c.name for c in state.constraints]
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise StateError(
            f"{meta.full_name}: constraint name(s) {', '.join(twice)} used twice; "
            "give each constraint its own name"
        )
    return state


def _extensions(model: type[Model]) -> list[str]:
    declared = getattr(getattr(model, "Meta", None), "march_extensions", ()) or ()
    out = []
    for item in declared:
        if not isinstance(item, declare.PostgresExtension):
            raise StateError(
                f"{model._meta.full_name}: Meta.march_extensions entry {item!r} is not "
                'a march.PostgresExtension; write march.PostgresExtension("name")'
            )
        out.append(item.name)
    return out


def _fields(model: type[Model]) -> Iterable[tuple[str, FieldState]]:
    meta = model._meta
    for name, column in meta.fields_db_projection.items():
        field = meta.fields_map[name]
        reference = getattr(field, "reference", None)
        if reference is not None:
            fk_name = reference.model_field_name
            yield fk_name, _fk_state(fk_name, field, reference, column)
        else:
            yield name, _data_state(model, name, field, column)
    for name, field in meta.fields_map.items():
        if isinstance(field, ManyToManyFieldInstance) and not field._generated:
            yield name, _m2m_state(field)


def _common(field: Field[Any], name: str, column: str, default_column: str) -> dict[str, Any]:
    options: dict[str, Any] = {
        "null": bool(field.null),
        "description": field.description or None,
        "default": _static_default(field.default, primary_key=bool(field.pk)),
        "db_default": _db_default(field),
    }
    if column != default_column:
        options["source_field"] = column
    if field.pk:
        options["primary_key"] = True
    else:
        # generate_schemas() builds a UNIQUE constraint and, for index=True, a separate index:
        # both options are kept, as the user wrote them.
        options["unique"] = bool(field.unique)
        options["db_index"] = bool(field.index)
    return options


def _data_kind(model: type[Model], name: str, field: Field[Any]) -> str:
    if isinstance(field, CharEnumFieldInstance):
        return "CharEnumField"
    if isinstance(field, IntEnumFieldInstance):
        return "IntEnumField"
    for klass, kind in CONTRIB_KINDS:
        if isinstance(field, klass):
            return kind
    for klass in type(field).__mro__:
        if klass.__name__ in DATA_KIND_NAMES:
            return klass.__name__
    raise StateError(
        f"{model._meta.full_name}.{name}: field type {type(field).__name__} is not supported; "
        "use one of the Tortoise field types "
        + ", ".join(sorted(DATA_KIND_NAMES | {kind for _, kind in CONTRIB_KINDS}))
    )


def _data_state(model: type[Model], name: str, field: Field[Any], column: str) -> FieldState:
    kind = _data_kind(model, name, field)
    options = _common(field, name, column, name)
    options["generated"] = bool(field.generated)
    for attr in ("max_length", "max_digits", "decimal_places"):
        value = getattr(field, attr, None)
        if value is not None:
            options[attr] = int(value)
    for attr in ("auto_now", "auto_now_add"):
        if getattr(field, attr, False):
            options[attr] = True
    options.update(_contrib_options(field))
    return FieldState(kind=kind, **options)


def _contrib_options(field: Field[Any]) -> dict[str, Any]:
    """Return the options of a tortoise.contrib field as the frozen state keeps them."""
    if isinstance(field, pg_fields.ArrayField):
        return {"element_type": field.element_type}
    if isinstance(field, pg_fields.TSVectorField):
        return {
            "source_fields": tuple(field.source_fields),
            "config": field.config,
            "weights": field.weights,
        }
    if isinstance(field, mysql_fields.UUIDField):
        return {"binary_compression": bool(field._binary_compression)}
    return {}


def _fk_state(name: str, key_field: Field[Any], fk: Any, column: str) -> FieldState:
    related = fk.related_model
    options = _common(key_field, name, column, f"{name}_id")
    options["generated"] = False
    to_field = fk.to_field if fk.to_field != related._meta.pk_attr else None
    kind = "OneToOneField" if isinstance(fk, OneToOneFieldInstance) else "ForeignKeyField"
    if kind == "OneToOneField" and not key_field.pk:
        options["unique"] = True
    return FieldState(
        kind=kind,
        to=related._meta.full_name,
        on_delete=str(getattr(fk.on_delete, "value", fk.on_delete)),
        to_field=to_field,
        db_constraint=bool(fk.db_constraint),
        **options,
    )


def _m2m_state(field: ManyToManyFieldInstance[Any]) -> FieldState:
    return FieldState(
        kind="ManyToManyField",
        to=field.related_model._meta.full_name,
        through=field.through,
        forward_key=field.forward_key,
        backward_key=field.backward_key,
        on_delete=str(getattr(field.on_delete, "value", field.on_delete)),
        db_constraint=bool(field.db_constraint),
        unique=bool(field.unique),
        description=field.description or None,
    )


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _static_default(value: Any, *, primary_key: bool = False) -> Any:
    # A primary key's callable default (Tortoise gives UUID keys uuid4) only makes new rows.
    if value is None or (primary_key and callable(value)):
        return NOT_PROVIDED
    if callable(value):
        return callable_ref(value)
    return _plain(value)


def _db_default(field: Field[Any]) -> Any:
    if not field.has_db_default():
        return NOT_PROVIDED
    value = field.db_default
    if isinstance(value, TortoiseNow):
        return frozen.Now()
    if isinstance(value, TortoiseRandomHex):
        return frozen.RandomHex()
    if isinstance(value, TortoiseSqlDefault):
        return SqlDefault(value.sql)
    return _plain(value)


def _field_name(state: ModelState, name: str) -> str:
    """Return the field stored in column ``name`` when ``name`` is a column, else ``name``."""
    if state.has_field(name):
        return name
    return next((n for n, f in state.fields if f.column(n) == name), name)


def _index(model: type[Model], state: ModelState, index: tuple[str, ...] | Index) -> IndexState:
    if not isinstance(index, Index):
        return IndexState(fields=tuple(index))
    index.resolve_expressions(model)
    expressions = () if index.fields else tuple(index.field_names)
    if isinstance(index, declare.Index):
        condition = index.condition
        include = tuple(_field_name(state, name) for name in index.include)
    else:
        extra = index.extra.strip()
        condition = extra[len("WHERE ") :] if extra.upper().startswith("WHERE ") else None
        include = ()
    return IndexState(
        fields=tuple(index.fields),
        expressions=expressions,
        name=index.name,
        index_type=index.INDEX_TYPE,
        condition=condition,
        include=include,
    )


def _constraint(model: type[Model], state: ModelState, constraint: Any) -> ConstraintState:
    """Return the state of a Meta.constraints or Meta.march_constraints entry; unnamed ones get
    a name derived from the table and their definition, so the same model always gives the same
    name."""
    table = state.table
    if isinstance(constraint, (UniqueConstraint, declare.UniqueConstraint)):
        names = tuple(constraint.fields)
        name = constraint.name or derived_name("uniq", table, names)
        return ConstraintState("unique", name, names, condition=constraint.condition)
    if isinstance(constraint, CheckConstraint):
        name = constraint.name or derived_name("chk", table, ["check", constraint.check])
        return ConstraintState("check", name, check=constraint.check)
    if isinstance(constraint, declare.ExclusionConstraint):
        parts = [
            (state.column_of(e.name) if isinstance(e, FieldRef) else e.sql) + f" {op}"
            for e, op in constraint.expressions
        ]
        first = constraint.expressions[0][0]
        head = state.column_of(first.name) if isinstance(first, FieldRef) else "expr"
        name = constraint.name or derived_name(
            "excl",
            table,
            [head, *parts, constraint.index_type, constraint.condition or ""],
        )
        expressions = tuple(
            (FieldRef(_field_name(state, e.name)) if isinstance(e, FieldRef) else e, op)
            for e, op in constraint.expressions
        )
        return ConstraintState(
            "exclusion",
            name,
            condition=constraint.condition,
            expressions=expressions,
            index_type=constraint.index_type,
        )
    raise StateError(
        f"{model._meta.full_name}: constraint {constraint!r} is not supported; use "
        "march.UniqueConstraint, march.ExclusionConstraint, or Tortoise's UniqueConstraint "
        "or CheckConstraint"
    )


def _check_relations(state: ProjectState) -> None:
    for model in state.models.values():
        for name, field in model.fields:
            if field.is_relation and field.to and _missing(state, field.to):
                raise StateError(
                    f"{model.label}.{name} points at {field.to}, which is not tracked: "
                    f'add march.Meta to {field.to}\'s Meta (or set track = "all")'
                )


def _missing(state: ProjectState, label: str) -> bool:
    app, _, name = label.partition(".")
    return (app, name) not in state.models
