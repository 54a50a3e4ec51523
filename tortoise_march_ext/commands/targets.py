"""Relative targets of ``migrate APP -N`` / ``+N``: steps back or forward from where APP stands.

APP's migrations are taken in the order ``migrate`` applies them; where APP stands is the last
one of them the database applied (nothing: zero). ``-1`` is the one before it (or ``zero``),
``+1`` the one after it. The target is resolved once, before the migration lock is taken, so that
two runs of ``migrate APP -1`` at once move APP back one migration, not two.
"""

from __future__ import annotations

import re
from typing import Any

from ..exceptions import GraphError
from ..project import Project

Key = tuple[str, str]
RELATIVE = re.compile(r"[+-]\d+")


def is_relative(target: str | None) -> bool:
    """Return whether ``target`` is ``-N`` or ``+N``."""
    return target is not None and RELATIVE.fullmatch(target) is not None


def absolute_target(project: Project, app: str | None, target: str | None, rows: Any) -> str | None:
    """Return ``target`` with a relative one (``-N``/``+N``) replaced by the migration name
    (or ``zero``) it points at, given the recorder ``rows``; raise GraphError past either end."""
    if not is_relative(target):
        return target
    assert target is not None
    if app is None:
        raise GraphError(f"a relative target needs its app: migrate APP {target}")
    project.check_app(app)
    done = project.use_applied(rows)
    graph = project.graph
    order = [key for key in graph.topological() if key[0] == app]
    applied = [key for key in order if key in done]
    if order[: len(applied)] != applied:
        raise GraphError(
            f"migrate {app} {target}: the applied migrations of {app} are not the first ones of "
            f"its history ({', '.join(n for _, n in applied)} applied); name the target instead"
        )
    position, step = len(applied), int(target)
    wanted = position + step
    if wanted < 0 or wanted > len(order):
        where = applied[-1][1] if applied else "zero"
        room = position if step < 0 else len(order) - position
        side = "before" if step < 0 else "after"
        furthest = f"the furthest is {'-' if step < 0 else '+'}{room}"
        if not room:
            furthest = f"nothing is {side} {where}"
        raise GraphError(
            f"migrate {app} {target}: {app} stands at {where}, {position} of {len(order)} "
            f"migration(s) applied; {target} goes past the "
            f"{'first' if step < 0 else 'latest'} migration ({furthest}); nothing was changed"
        )
    return "zero" if wanted == 0 else order[wanted - 1][1]
