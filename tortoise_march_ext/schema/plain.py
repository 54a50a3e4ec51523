"""ProjectState as plain data (JSON types only) and back, exactly.

Owns the one plain-data form of the schema value objects, used by the state cache. Nothing is
ever imported or called by name while reading: every kind of value has a fixed tag, and a
value this module does not know raises :class:`PlainError` when written, never a guess.

Scalars (``None``, ``bool``, ``int``, ``float``, ``str``) are written as themselves; every other
value is a JSON array whose first element is its tag (``["t", [...]]`` a tuple, ``["dec",
"12.50"]`` a Decimal, ...), so reading tells them apart without ambiguity. Dataclass values
store only the attributes that differ from their declared defaults.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import uuid
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any, TypeVar

from ..exceptions import MarchError
from .state import (
    NOT_PROVIDED,
    CallableRef,
    ConstraintState,
    FieldRef,
    FieldState,
    IndexState,
    ModelState,
    ProjectState,
    RawSQL,
    SqlDefault,
)

__all__ = ["PlainError", "state_from_plain", "state_to_plain", "value_from_plain", "value_to_plain"]

Plain = Any
SCALARS = (type(None), bool, int, float, str)
T = TypeVar("T", FieldState, IndexState, ConstraintState)


class PlainError(MarchError):
    """A value has no plain-data form, or plain data does not describe a state."""


def _dec(value: decimal.Decimal) -> Plain:
    return ["dec", str(value)]


_TO: dict[type, Callable[[Any], Plain]] = {
    tuple: lambda v: ["t", [value_to_plain(x) for x in v]],
    list: lambda v: ["l", [value_to_plain(x) for x in v]],
    dict: lambda v: ["d", [[value_to_plain(k), value_to_plain(x)] for k, x in v.items()]],
    bytes: lambda v: ["b", base64.b64encode(v).decode("ascii")],
    decimal.Decimal: _dec,
    uuid.UUID: lambda v: ["uuid", str(v)],
    datetime.datetime: lambda v: ["dt", v.isoformat()],
    datetime.date: lambda v: ["date", v.isoformat()],
    datetime.time: lambda v: ["time", v.isoformat()],
    datetime.timedelta: lambda v: ["td", [v.days, v.seconds, v.microseconds]],
    SqlDefault: lambda v: ["sql", v.sql, value_to_plain(v.dialects)],
    FieldRef: lambda v: ["ref", v.name],
    RawSQL: lambda v: ["raw", v.sql],
    CallableRef: lambda v: ["call", v.module, v.qualname],
    type(NOT_PROVIDED): lambda v: ["np"],
}

_FROM: dict[str, Callable[..., Any]] = {
    "t": lambda items: tuple(value_from_plain(x) for x in items),
    "l": lambda items: [value_from_plain(x) for x in items],
    "d": lambda pairs: {value_from_plain(k): value_from_plain(v) for k, v in pairs},
    "b": lambda text: base64.b64decode(text.encode("ascii"), validate=True),
    "dec": decimal.Decimal,
    "uuid": uuid.UUID,
    "dt": datetime.datetime.fromisoformat,
    "date": datetime.date.fromisoformat,
    "time": datetime.time.fromisoformat,
    "td": lambda parts: datetime.timedelta(*parts),
    "sql": lambda sql, dialects: SqlDefault(_str(sql), value_from_plain(dialects)),
    "ref": lambda name: FieldRef(_str(name)),
    "raw": lambda sql: RawSQL(_str(sql)),
    "call": lambda module, qualname: CallableRef(_str(module), _str(qualname)),
    "np": lambda: NOT_PROVIDED,
}


def _str(value: Any) -> str:
    if type(value) is not str:
        raise PlainError(f"expected a string, got {value!r}")
    return value


def value_to_plain(value: Any) -> Plain:
    """Return ``value`` as plain data; raise PlainError for a kind of value not known here."""
    kind = type(value)
    if kind in SCALARS:
        return value
    writer = _TO.get(kind)
    if writer is None:
        raise PlainError(f"cannot store {value!r} ({kind.__name__}) as plain data")
    return writer(value)


def value_from_plain(data: Plain) -> Any:
    """Return the value ``data`` describes (the inverse of :func:`value_to_plain`)."""
    if type(data) in SCALARS:
        return data
    if type(data) is not list or not data or type(data[0]) is not str or data[0] not in _FROM:
        raise PlainError(f"not a plain value: {data!r}")
    return _FROM[data[0]](*data[1:])


def _object_to_plain(value: FieldState | IndexState | ConstraintState) -> dict[str, Plain]:
    out: dict[str, Plain] = {}
    for f in fields(value):
        attr = getattr(value, f.name)
        if f.default is MISSING or type(attr) is not type(f.default) or attr != f.default:
            out[f.name] = value_to_plain(attr)
    return out


def _shape(cls: type[Any]) -> tuple[dict[str, Any], frozenset[str], frozenset[str]]:
    defaults = {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    return (
        defaults,
        frozenset(f.name for f in fields(cls)) - defaults.keys(),
        frozenset(f.name for f in fields(cls)),
    )


_SHAPES = {cls: _shape(cls) for cls in (FieldState, IndexState, ConstraintState)}


def _object_from_plain(cls: type[T], data: Plain) -> T:
    # Built as unpickling builds it (no __init__ per object): start-up reads thousands of these.
    defaults, required, known = _SHAPES[cls]
    if type(data) is not dict or not required <= data.keys() <= known:
        raise PlainError(f"not a plain {cls.__name__}: {data!r}")
    values = dict(defaults)
    for name, value in data.items():
        values[name] = value if type(value) in SCALARS else value_from_plain(value)
    obj = object.__new__(cls)
    obj.__dict__.update(values)
    return obj


def model_to_plain(model: ModelState) -> dict[str, Plain]:
    """Return one model state as plain data."""
    return {
        "app": model.app,
        "name": model.name,
        "table": model.table,
        "fields": [[name, _object_to_plain(f)] for name, f in model.fields],
        "indexes": [_object_to_plain(i) for i in model.indexes],
        "unique_together": value_to_plain(model.unique_together),
        "constraints": [_object_to_plain(c) for c in model.constraints],
        "description": model.description,
    }


def model_from_plain(data: Plain) -> ModelState:
    """Return the model state ``data`` describes."""
    description = data["description"]
    if description is not None:
        description = _str(description)
    return ModelState(
        app=_str(data["app"]),
        name=_str(data["name"]),
        table=_str(data["table"]),
        fields=tuple((_str(n), _object_from_plain(FieldState, f)) for n, f in data["fields"]),
        indexes=tuple(_object_from_plain(IndexState, i) for i in data["indexes"]),
        unique_together=value_from_plain(data["unique_together"]),
        constraints=tuple(_object_from_plain(ConstraintState, c) for c in data["constraints"]),
        description=description,
    )


def state_to_plain(state: ProjectState) -> dict[str, Plain]:
    """Return ``state`` as plain data (models in their order, extensions sorted)."""
    return {
        "models": [model_to_plain(m) for m in state.models.values()],
        "extensions": [list(e) for e in sorted(state.extensions)],
    }


def state_from_plain(data: Plain) -> ProjectState:
    """Return the state ``data`` describes; raise on anything that does not fit."""
    models = [model_from_plain(m) for m in data["models"]]
    state = ProjectState(
        {(m.app, m.name): m for m in models},
        {(_str(app), _str(name)) for app, name in data["extensions"]},
    )
    if len(state.models) != len(models):
        raise PlainError("plain state names a model twice")
    return state
