"""squashmigrations: replace a run of an app's migrations with one optimised migration.

The new module lists the old ones in ``replaces``; RunPython functions (and the module-level
helpers and imports they use) are copied into it with libcst. Whether the squash or the old
migrations run is decided per database (see ``engine/replacements.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..autodetect.optimizer import optimize
from ..config import MarchConfig
from ..engine.executor import replay
from ..exceptions import GraphError, StateError
from ..files.editor import FunctionSource, copy_functions
from ..files.loader import LoadedMigration
from ..files.serializer import FunctionRef, Imports
from ..files.writer import render_migration
from ..operations import Operation, RunPython
from ..project import Project, open_project
from .make import MAX_NAME

Key = tuple[str, str]


@dataclass
class SquashResult:
    """The squashed migration squashmigrations wrote (or would write)."""

    app: str
    name: str
    path: Path
    replaces: list[Key]
    operations: list[Operation]
    source: str
    copied: list[str]


def _run(project: Project, app: str, start: str | None, end: str) -> list[Key]:
    """Return the migrations of ``app`` from ``start`` (default: the first) to ``end``."""
    graph = project.graph
    last = graph.resolve(app, end)
    if last is None:
        raise GraphError("squashmigrations needs a migration name to end at, not zero")
    history = graph.topological([last])
    first = graph.resolve(app, start) if start else next(k for k in history if k[0] == app)
    if first is None or first not in history:
        raise GraphError(f"{app}.{start} is not an ancestor of {app}.{end}; swap FROM and TO")
    after_first = set(graph.descendants(first))
    span = [k for k in history if k in after_first]
    others = [k for k in span if k[0] != app]
    if others:
        raise GraphError(
            f"cannot squash {app} {first[1]} to {last[1]}: {others[0][0]}.{others[0][1]} sits "
            "between them (it depends on one and another depends on it); squash the parts "
            "before and after it separately"
        )
    for key in span:
        if project.loaded[key].replaces:
            raise GraphError(
                f"{app}.{key[1]} is itself a squash; once every database has applied it, "
                "delete the migrations it replaces and its replaces line, then squash again"
            )
    if len(span) < 2:
        raise GraphError(f"nothing to squash: {app} {first[1]} to {last[1]} is one migration")
    return span


def _functions(span: list[LoadedMigration]) -> tuple[list[FunctionSource], dict[int, Any]]:
    """Return the functions to copy from each module and the RunPython operations using them."""
    sources = []
    owners: dict[int, FunctionSource] = {}
    for node in span:
        names = []
        for op in node.operations:
            if isinstance(op, RunPython):
                for function in (op.forwards, op.backwards):
                    if function is not None:
                        names.append(getattr(function, "__name__", ""))
        if names:
            number = re.match(r"\d+", node.name)
            source = FunctionSource(
                node.path, node.source, names, number.group() if number else node.name
            )
            sources.append(source)
            for op in node.operations:
                owners[id(op)] = source
    return sources, owners


def _retarget(op: RunPython, source: FunctionSource) -> RunPython:
    def ref(function: Any) -> Any:
        if function is None:
            return None
        return FunctionRef(source.renamed.get(function.__name__, function.__name__))

    return RunPython(ref(op.forwards), ref(op.backwards), atomic=op.atomic)


def _check_equivalent(project: Project, span: list[Key], operations: list[Operation]) -> None:
    """Raise StateError unless the squashed operations build the state the old ones did."""
    graph = project.graph
    before = [k for k in graph.topological([span[-1]]) if k not in span]
    expected = replay(graph, [*before, *span])
    state = replay(graph, before)
    for operation in operations:
        operation.state_forwards(span[0][0], state)
    if (state.models, state.extensions) != (expected.models, expected.extensions):
        raise StateError(
            f"squashing {span[0][1]} to {span[-1][1]} changed the resulting model state; "
            "please report this, and squash a shorter range meanwhile"
        )


def _label(span: list[Key], name: str | None) -> str:
    """Return Django's name, ``<first>_squashed_<last>``, or ``<number>_<name>``."""
    first, last = span[0][1], span[-1][1]
    number = re.match(r"\d*", first).group() or "0001"  # type: ignore[union-attr]
    if name:
        return f"{number}_{name}"
    label = f"{first}_squashed_{last}"
    if len(label) > 2 * MAX_NAME:
        label = f"{number}_squashed_{re.match(r'[0-9]*', last).group() or last}"  # type: ignore[union-attr]
    return label


async def squashmigrations(
    config: MarchConfig,
    app: str,
    start: str | None,
    end: str,
    *,
    name: str | None = None,
    dry_run: bool = False,
) -> SquashResult:
    """Write ``<start>_squashed_<end>`` replacing ``start``..``end`` of ``app``."""
    async with open_project(config) as project:
        project.check_app(app)
        if project.is_vendored(app):
            raise GraphError(
                f"app {app!r}: its migrations are vendored ({project.config.vendored_dirs[app]}) "
                "and come from the library: nothing squashed; squash your own apps only"
            )
        if name is not None and not re.fullmatch(r"[A-Za-z0-9_]+", name):
            raise GraphError(f"--squashed-name {name!r}: use letters, digits and _ only")
        span = _run(project, app, start, end)
        nodes = [project.loaded[k] for k in span]
        sources, owners = _functions(nodes)
        imports = Imports()
        functions = copy_functions(sources, imports)
        operations = []
        for node in nodes:
            for op in node.operations:
                if isinstance(op, RunPython):
                    op = _retarget(op, owners[id(op)])
                operations.append(op)
        operations = optimize(operations, app)
        _check_equivalent(project, span, operations)
        deps = sorted({d for node in nodes for d in node.dependencies if d not in span})
        label = _label(span, name)
        path = project.config.migrations_dir / app / f"{label}.py"
        if path.exists() or (app, label) in project.loaded:
            raise GraphError(f"{path} already exists; pass --squashed-name to choose another name")
        docstring = f"Squash {span[0][1]} to {span[-1][1]} of {app}.\n\n" + "".join(
            f"- {op.describe()}\n" for op in operations
        )
        source = render_migration(
            docstring,
            deps,
            operations,
            initial=any(n.migration.initial for n in nodes),
            functions=functions,
            replaces=span,
            atomic=all(n.atomic for n in nodes),
            imports=imports,
        )
        if not dry_run:
            path.write_text(source, encoding="utf-8")
        names = [f"{s.path.name}:{n}" for s in sources for n in s.names]
        return SquashResult(app, label, path, span, operations, source, names)
