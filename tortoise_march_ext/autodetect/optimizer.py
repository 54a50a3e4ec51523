"""Shorten a list of operations by folding neighbours through ``Operation.reduce``."""

from __future__ import annotations

from ..operations import Operation


def optimize(operations: list[Operation], app: str) -> list[Operation]:
    """Return an equivalent, shorter list: fold each operation with the one right after it."""
    result = list(operations)
    changed = True
    while changed:
        changed = False
        for i in range(len(result) - 1):
            folded = result[i].reduce(result[i + 1], app)
            if folded is not None:
                result[i : i + 2] = folded
                changed = True
                break
    return result
