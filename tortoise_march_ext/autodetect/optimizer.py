"""Shorten a list of operations by folding pairs through ``Operation.reduce``.

Django's rule: an operation folds with a later one when every operation in between lets one of
the two move past it (``reduce`` returning True means "independent"). The folded result goes where
the move is allowed: after the operations in between when the first may move right, before them
when they may all move left past the second. RunPython and RunSQL are independent of nothing, so
nothing folds across them.
"""

from __future__ import annotations

from ..operations import Operation


def optimize(operations: list[Operation], app: str) -> list[Operation]:
    """Return an equivalent list, folded until nothing more folds."""
    result = list(operations)
    while True:
        folded = _fold_once(result, app)
        if folded is None:
            return result
        result = folded


def _fold_once(operations: list[Operation], app: str) -> list[Operation] | None:
    """Return the list with the first foldable pair folded, or None when no pair folds."""
    for i, operation in enumerate(operations):
        right = True
        for j in range(i + 1, len(operations)):
            other = operations[j]
            result = operation.reduce(other, app)
            if isinstance(result, list):
                between = operations[i + 1 : j]
                if right:
                    return [*operations[:i], *between, *result, *operations[j + 1 :]]
                if all(op.reduce(other, app) is True for op in between):
                    return [*operations[:i], *result, *between, *operations[j + 1 :]]
                break
            if result is not True:
                right = False
    return None
