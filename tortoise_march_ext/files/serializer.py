"""Turn values into libcst expressions, laid out the way ``ruff format`` leaves them.

A registry maps value types to builders. The layout rule is the fixed point of ruff's formatter:
an expression that fits on its line is written flat; one that does not is written one element per
line with a trailing comma (ruff keeps a "magic trailing comma" expanded).
"""

from __future__ import annotations

import datetime
import decimal
import enum
import math
import types
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import libcst as cst

from ..exceptions import SerializationError
from ..operations import Operation
from ..schema.fields import Now, RandomHex
from ..schema.state import (
    CallableRef,
    ConstraintState,
    FieldRef,
    FieldState,
    IndexState,
    RawSQL,
    SqlDefault,
)

LINE_LENGTH = 88
INDENT = "    "
_EMPTY = cst.SimpleWhitespace("")
_SPACE = cst.SimpleWhitespace(" ")


@dataclass
class Imports:
    """Names a module needs imported, collected while serializing."""

    modules: set[str] = field(default_factory=set)
    froms: set[tuple[str, str]] = field(default_factory=set)


Builder = Callable[[Any, Imports], cst.BaseExpression]


@dataclass(frozen=True)
class FunctionRef:
    """A function defined in the migration module itself, written as its bare name."""

    name: str


def _attr(dotted: str) -> cst.BaseExpression:
    head, *rest = dotted.split(".")
    node: cst.BaseExpression = cst.Name(head)
    for part in rest:
        node = cst.Attribute(node, cst.Name(part))
    return node


def _string(text: str, *, ascii_only: bool = False) -> cst.SimpleString:
    quote = "'" if text.count('"') > text.count("'") else '"'
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == quote:
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif not ch.isprintable() or (ascii_only and ord(ch) > 127):
            out.append(_escape(ord(ch)))
        else:
            out.append(ch)
    return cst.SimpleString(quote + "".join(out) + quote)


def _escape(code: int) -> str:
    """Return the escape of a character that must not appear raw in a file (control and
    invisible characters: ruff's PLE25xx rules flag them)."""
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _function(value: types.FunctionType) -> cst.Name:
    if value.__name__ != value.__qualname__ or value.__name__ == "<lambda>":
        raise SerializationError(
            f"cannot write {value.__qualname__} into a migration file: RunPython needs a "
            "function defined at the top level of the migration module"
        )
    return cst.Name(value.__name__)


def _bytes(value: bytes) -> cst.SimpleString:
    return cst.SimpleString("b" + _string(value.decode("latin-1"), ascii_only=True).value)


def _number(value: int | float) -> cst.BaseExpression:
    if isinstance(value, float) and not math.isfinite(value):
        return _non_finite(value)
    literal: cst.BaseExpression = (
        cst.Integer(str(abs(value)))
        if isinstance(value, int)
        # ruff format writes exponents without "+": 1e300, not repr's 1e+300.
        else cst.Float(repr(abs(value)).replace("e+", "e"))
    )
    if math.copysign(1, value) < 0:
        return cst.UnaryOperation(cst.Minus(), literal)
    return literal


def _non_finite(value: float) -> cst.BaseExpression:
    """Return ``float("nan")`` or ``float("inf")`` (negated for -inf): they have no literal."""
    node: cst.BaseExpression = cst.Call(
        cst.Name("float"), [cst.Arg(_string("nan" if math.isnan(value) else "inf"))]
    )
    return cst.UnaryOperation(cst.Minus(), node) if value < 0 else node


def _decimal(value: decimal.Decimal, imports: Imports) -> cst.BaseExpression:
    """Return ``decimal.Decimal(7)`` for a whole number (ruff's FURB157 flags ``Decimal("7")``),
    else ``decimal.Decimal("0.10")``: the string keeps the exponent, ``-0``, NaN and Infinity."""
    imports.modules.add("decimal")
    text = str(value)
    whole = text.lstrip("-").isdigit() and text != "-0"
    return call("decimal.Decimal", [int(text) if whole else text], {}, imports)


def call(func: str, args: list[Any], kwargs: dict[str, Any], imports: Imports) -> cst.Call:
    """Return ``func(*args, **kwargs)`` with every value serialized."""
    nodes = [cst.Arg(serialize(a, imports)) for a in args]
    nodes += [
        cst.Arg(
            serialize(v, imports),
            keyword=cst.Name(k),
            equal=cst.AssignEqual(whitespace_before=_EMPTY, whitespace_after=_EMPTY),
        )
        for k, v in kwargs.items()
    ]
    return cst.Call(_attr(func), nodes)


def _field(value: FieldState, imports: Imports) -> cst.BaseExpression:
    imports.froms.add(("tortoise_march_ext.schema", "fields"))
    kind, kwargs = value.deconstruct()
    args = [kwargs.pop("to")] if "to" in kwargs else []
    return call(f"fields.{kind}", args, kwargs, imports)


def _index(value: IndexState, imports: Imports) -> cst.BaseExpression:
    imports.froms.add(("tortoise_march_ext.schema", "fields"))
    kwargs: dict[str, Any] = {}
    if value.fields:
        kwargs["fields"] = list(value.fields)
    if value.expressions:
        kwargs["expressions"] = list(value.expressions)
    for key in ("name", "index_type", "condition"):
        if getattr(value, key):
            kwargs[key] = getattr(value, key)
    if value.include:
        kwargs["include"] = list(value.include)
    return call("fields.Index", [], kwargs, imports)


def _constraint(value: ConstraintState, imports: Imports) -> cst.BaseExpression:
    imports.froms.add(("tortoise_march_ext.schema", "fields"))
    if value.kind == "check":
        return call(
            "fields.CheckConstraint", [], {"check": value.check, "name": value.name}, imports
        )
    if value.kind == "exclusion":
        kwargs: dict[str, Any] = {"expressions": list(value.expressions), "name": value.name}
        if value.index_type != "gist":
            kwargs["index_type"] = value.index_type
        if value.condition:
            kwargs["condition"] = value.condition
        return call("fields.ExclusionConstraint", [], kwargs, imports)
    kwargs = {"fields": list(value.fields), "name": value.name}
    if value.condition:
        kwargs["condition"] = value.condition
    return call("fields.UniqueConstraint", [], kwargs, imports)


def _expression(value: FieldRef | RawSQL, imports: Imports) -> cst.BaseExpression:
    imports.froms.add(("tortoise_march_ext.schema", "fields"))
    if isinstance(value, FieldRef):
        return call("fields.FieldRef", [value.name], {}, imports)
    return call("fields.RawSQL", [value.sql], {}, imports)


def _sql_default(value: SqlDefault, imports: Imports) -> cst.BaseExpression:
    imports.froms.add(("tortoise_march_ext.schema", "fields"))
    for name, factory in (("Now", Now), ("RandomHex", RandomHex)):
        if value == factory():
            return call(f"fields.{name}", [], {}, imports)
    kwargs = {"dialects": value.dialects} if value.dialects else {}
    return call("fields.SqlDefault", [value.sql], kwargs, imports)


def _callable(value: CallableRef, imports: Imports) -> cst.BaseExpression:
    """Return the callable by its import path (``dict``, ``uuid.uuid4`` with ``import uuid``)."""
    if not value.referable:
        raise SerializationError(
            f"cannot write the default {value.qualname.strip('<>')} into a migration file: "
            "name a module-level function instead"
        )
    if value.module != "builtins":
        imports.modules.add(value.module)
    return _attr(value.path)


def _operation(value: Operation, imports: Imports) -> cst.BaseExpression:
    imports.froms.add(("tortoise_march_ext", "migrations"))
    name, kwargs = value.deconstruct()
    if "march_ignore" in value.__dict__:
        kwargs = {**kwargs, "march_ignore": value.__dict__["march_ignore"]}
    return call(f"migrations.{name}", [], kwargs, imports)


def _datetime(value: datetime.datetime, imports: Imports) -> cst.BaseExpression:
    imports.modules.add("datetime")
    return call("datetime.datetime.fromisoformat", [value.isoformat()], {}, imports)


def _imported(imports: Imports, module: str, node: cst.BaseExpression) -> cst.BaseExpression:
    imports.modules.add(module)
    return node


def _date(value: datetime.date, imports: Imports) -> cst.BaseExpression:
    imports.modules.add("datetime")
    return call("datetime.date", [value.year, value.month, value.day], {}, imports)


def _time(value: datetime.time, imports: Imports) -> cst.BaseExpression:
    imports.modules.add("datetime")
    if value.tzinfo is not None:
        return call("datetime.time.fromisoformat", [value.isoformat()], {}, imports)
    parts = [value.hour, value.minute, value.second]
    if value.microsecond:
        parts.append(value.microsecond)
    return call("datetime.time", parts, {}, imports)


def _timedelta(value: datetime.timedelta, imports: Imports) -> cst.BaseExpression:
    imports.modules.add("datetime")
    kwargs = {
        k: v
        for k, v in (
            ("days", value.days),
            ("seconds", value.seconds),
            ("microseconds", value.microseconds),
        )
        if v
    }
    return call("datetime.timedelta", [], kwargs, imports)


def _sequence(value: list[Any] | tuple[Any, ...], imports: Imports) -> cst.BaseExpression:
    elements = [cst.Element(serialize(v, imports)) for v in value]
    if isinstance(value, list):
        return cst.List(elements)
    if len(elements) == 1:
        elements = [elements[0].with_changes(comma=cst.Comma())]
    return cst.Tuple(elements)


def _dict(value: dict[Any, Any], imports: Imports) -> cst.BaseExpression:
    return cst.Dict(
        [
            cst.DictElement(
                serialize(k, imports), serialize(v, imports), whitespace_before_colon=_EMPTY
            )
            for k, v in value.items()
        ]
    )


REGISTRY: list[tuple[type | tuple[type, ...], Builder]] = [
    (bool, lambda v, _: cst.Name(str(v))),
    (type(None), lambda v, _: cst.Name("None")),
    ((int, float), lambda v, _: _number(v)),
    (str, lambda v, _: _string(v)),
    (bytes, lambda v, _: _bytes(v)),
    (decimal.Decimal, _decimal),
    (uuid.UUID, lambda v, i: _imported(i, "uuid", call("uuid.UUID", [str(v)], {}, i))),
    (datetime.datetime, _datetime),
    (datetime.date, _date),
    (datetime.time, _time),
    (datetime.timedelta, _timedelta),
    (enum.Enum, lambda v, i: serialize(v.value, i)),
    (FunctionRef, lambda v, _: cst.Name(v.name)),
    (types.FunctionType, lambda v, _: _function(v)),
    (FieldState, _field),
    (IndexState, _index),
    (ConstraintState, _constraint),
    ((FieldRef, RawSQL), _expression),
    (SqlDefault, _sql_default),
    (CallableRef, _callable),
    (Operation, _operation),
    ((list, tuple), _sequence),
    (dict, _dict),
]


def serialize(value: Any, imports: Imports) -> cst.BaseExpression:
    """Return the libcst expression that rebuilds ``value``."""
    for kinds, builder in REGISTRY:
        if isinstance(value, kinds):
            return builder(value, imports)
    raise SerializationError(
        f"cannot write {value!r} ({type(value).__name__}) into a migration file: use a literal "
        "(str, int, float, bool, None, Decimal, date/time, UUID, list, tuple, dict) instead"
    )
