"""The old checksum scheme, to recognise recorder rows written with it.

It hashed ``ast.dump(ast.parse(source), include_attributes=False)``, whose text differs between
Python releases (3.12 added ``type_params``, 3.12's parser an empty constant after a format spec's
last field, 3.13's dump leaves out empty lists and None). :func:`legacy_checksums` rebuilds that
text as 3.10/3.11, 3.12 and 3.13 print it, from whichever Python runs this. Standard library only.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from typing import Any

# Fields that Python releases added to existing nodes (appended to ``_fields``), with the value a
# tree parsed by an older Python stands for.
_ADDED: dict[str, tuple[tuple[int, int], frozenset[str], Any]] = {
    "type_params": ((3, 12), frozenset({"FunctionDef", "AsyncFunctionDef", "ClassDef"}), []),
    "default_value": ((3, 13), frozenset({"TypeVar", "ParamSpec", "TypeVarTuple"}), None),
}
# (version, the 3.12.0-3.12.x parser's extra ``Constant('')`` after a format spec's last field)
_LEGACY = (((3, 10), False), ((3, 12), True), ((3, 12), False), ((3, 13), False))
_MISSING = object()


@functools.lru_cache(maxsize=256)
def legacy_checksums(source: str) -> frozenset[str]:
    """Return the old-scheme checksums of ``source`` as Python 3.10 to 3.13 computed them."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return frozenset()
    dumps = {legacy_dump(tree, version, quirk) for version, quirk in _LEGACY}
    dumps.add(ast.dump(tree, include_attributes=False))
    return frozenset(hashlib.sha256(d.encode("utf-8")).hexdigest() for d in dumps)


def legacy_dump(node: Any, version: tuple[int, int], spec_quirk: bool = False) -> str:
    """Return ``ast.dump(node)`` as Python ``version`` prints it (single line, no attributes);
    ``spec_quirk`` adds the empty constant 3.12's parser puts after a format spec's last field."""
    if isinstance(node, list):
        return "[" + ", ".join(legacy_dump(x, version, spec_quirk) for x in node) + "]"
    if not isinstance(node, ast.AST):
        return repr(node)
    cls = type(node)
    args = []
    for name in _fields(cls, version):
        default = _ADDED[name][2] if name in _ADDED else _MISSING
        value = getattr(node, name, default)
        if value is _MISSING or value is None and getattr(cls, name, ...) is None:
            continue
        if name == "format_spec" and isinstance(value, ast.JoinedStr):
            value = _spec(value, spec_quirk)
        empty = value is None or isinstance(value, list) and not value
        if (
            version >= (3, 13)
            and empty
            and not isinstance(node, (ast.Constant, ast.MatchSingleton))
        ):
            continue
        args.append(f"{name}={legacy_dump(value, version, spec_quirk)}")
    return f"{cls.__name__}({', '.join(args)})"


def _spec(spec: ast.JoinedStr, quirk: bool) -> ast.JoinedStr:
    values = list(spec.values)
    last = values[-1] if values else None
    if isinstance(last, ast.Constant) and last.value == "" and len(values) > 1:
        values.pop()
    if quirk and values and isinstance(values[-1], ast.FormattedValue):
        values.append(ast.Constant(value=""))
    return ast.JoinedStr(values=values)


def _fields(cls: type, version: tuple[int, int]) -> list[str]:
    name = cls.__name__
    fields = [
        f
        for f in cls._fields  # type: ignore[attr-defined]
        if not (f in _ADDED and name in _ADDED[f][1] and version < _ADDED[f][0])
    ]
    for field, (since, owners, _) in _ADDED.items():
        if name in owners and version >= since and field not in fields:
            fields.append(field)
    return fields
