"""What two branches of one app's history both change: the question ``makemigrations --merge``
asks before writing a merge migration.

Pure analysis of operations, no I/O. Each operation touches one or more *parts* of a model:
the model itself (created, deleted, renamed, its table changed), one of its fields, or its options
(indexes, constraints, unique groups). Two branches conflict where their parts overlap: the same
field, the same options, or anything of a model that one branch creates, deletes or renames
(the other branch's operations would name a model that is no longer there under that name).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations

from ..operations import Operation, RenameField, RenameModel

Part = tuple[str, str | None]
"""``(model, field)``: field None is the model itself, ``""`` its options."""


def touched(operations: Sequence[Operation]) -> set[Part]:
    """Return the parts of models that ``operations`` change."""
    out: set[Part] = set()
    for op in operations:
        data = op.__dict__
        if isinstance(op, RenameModel):
            out |= {(op.old_name, None), (op.new_name, None)}
        elif isinstance(op, RenameField):
            out |= {(op.model, op.old_name), (op.model, op.new_name)}
        elif "model" in data:
            out.add((data["model"], data.get("name") or data.get("new_name") or ""))
        elif isinstance(data.get("name"), str):
            out.add((data["name"], None))
    return out


def _overlap(a: Part, b: Part) -> bool:
    return a[0] == b[0] and (a[1] is None or b[1] is None or a[1] == b[1])


def conflicts(branches: Sequence[set[Part]]) -> list[str]:
    """Return, sorted, what at least two of ``branches`` both change (``Model`` or
    ``Model.field``)."""
    found: set[str] = set()
    for first, second in combinations(branches, 2):
        for a in first:
            for b in second:
                if _overlap(a, b):
                    found |= {_label(a if a[1] is None or b[1] is not None else b)}
    return sorted(found)


def _label(part: Part) -> str:
    model, field = part
    return f"{model}.{field}" if field else model
