"""``optimizemigration APP NAME``: rewrite one migration with the optimizer (Django's command).

The operations are folded by :func:`~tortoise_march_ext.autodetect.optimizer.optimize`, checked to
build the same state as before (squash's check), and put back into the module with libcst: the
operations the optimizer kept keep their original text (RunPython functions, comments), the
docstring follows when it was the generated one, and imports only the removed operations used go.
The file is written only when it changes. An applied migration is refused: the recorder keeps
its checksum, and every database that applied it would refuse the rewritten file as changed.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import libcst as cst

from ..autodetect.optimizer import optimize
from ..config import MarchConfig
from ..exceptions import GraphError, HistoryError, StateError
from ..files.editor import Update, _used, update_module
from ..files.writer import describe_operations
from ..operations import Operation
from ..project import Project, open_project
from .squash import _check_equivalent

Key = tuple[str, str]


@dataclass
class OptimizeResult:
    """What optimizemigration did (or, with ``check``, would do) to one migration."""

    app: str
    name: str
    path: Path
    before: int
    operations: list[Operation]
    source: str
    changed: bool
    written: bool


async def optimizemigration(
    config: MarchConfig, app: str, name: str, *, check: bool = False
) -> OptimizeResult:
    """Rewrite ``app``'s migration ``name`` (or unique prefix) with the optimizer; with
    ``check`` write nothing (and need no database)."""
    async with open_project(config) as project:
        project.check_app(app)
        if project.is_vendored(app):
            raise GraphError(
                f"app {app!r}: its migrations are vendored ({project.config.vendored_dirs[app]}) "
                "and come from the library: nothing optimised; optimise your own apps only"
            )
        key = project.graph.resolve(app, name)
        if key is None:
            raise GraphError("optimizemigration needs a migration name, not zero")
        if not check:
            await _refuse_applied(project, key)
        node = project.loaded[key]
        old = list(node.operations)
        operations = optimize(old, app)
        if operations == old:
            return OptimizeResult(app, key[1], node.path, len(old), old, node.source, False, False)
        try:
            _check_equivalent(project, [key], operations)
        except StateError as exc:
            raise StateError(
                f"optimizing {app}.{key[1]} would change the model state it builds; nothing was "
                "written; please report this"
            ) from exc
        generated = ast.get_docstring(ast.parse(node.source), clean=False)
        ours = generated == describe_operations(old)  # else the author's: keep it
        docstring = describe_operations(operations) if ours else None
        source = update_module(node.path, node.source, old, Update(operations, [], docstring))
        source = _without_unused_imports(source, node.source)
        if not check:
            node.path.write_text(source, encoding="utf-8")
        return OptimizeResult(app, key[1], node.path, len(old), operations, source, True, not check)


async def _refuse_applied(project: Project, key: Key) -> None:
    """Raise HistoryError when the database applied ``key`` (or a squash counts it applied)."""
    done = project.use_applied(await project.applied([key[0]]))
    if key in done:
        raise HistoryError(
            f"cannot optimize {key[0]}.{key[1]}: database connection "
            f"{project.connection_name(key[0])!r} has applied it, and a rewritten file no longer "
            "matches its recorded checksum; unapply it first (`migrate APP <previous>`), or "
            "leave it as it is"
        )


def _is_import(statement: cst.CSTNode) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and all(
        isinstance(small, (cst.Import, cst.ImportFrom)) for small in statement.body
    )


def _code_names(module: cst.Module) -> set[str]:
    """Return the names the module's statements other than imports read."""
    names: set[str] = set()
    for statement in module.body:
        if not _is_import(statement):
            names |= _used(statement)
    return names


def _bound_name(alias: cst.ImportAlias) -> str:
    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
        return alias.asname.name.value
    node: cst.BaseExpression = alias.name
    while isinstance(node, cst.Attribute):
        node = node.value
    return node.value if isinstance(node, cst.Name) else ""


def _without_unused_imports(source: str, original: str) -> str:
    """Return ``source`` without the imported names that ``original`` used and it no longer
    does (what the removed operations needed); other imports are left as they were."""
    module = cst.parse_module(source)
    used, used_before = _code_names(module), _code_names(cst.parse_module(original))
    gone = used_before - used
    body: list[cst.BaseStatement] = []
    carried: tuple[cst.EmptyLine, ...] = ()
    for statement in module.body:
        if _is_import(statement):
            assert isinstance(statement, cst.SimpleStatementLine)
            kept = _drop_aliases(statement, gone)
            if kept is None:
                carried = tuple(statement.leading_lines)
                continue
            statement = kept
        if carried and len(carried) > len(statement.leading_lines):
            statement = statement.with_changes(leading_lines=carried)
        carried = ()
        body.append(statement)
    return module.with_changes(body=body).code


def _drop_aliases(
    statement: cst.SimpleStatementLine, gone: set[str]
) -> cst.SimpleStatementLine | None:
    """Return the import line without the names in ``gone`` (None when none is left)."""
    small: list[cst.BaseSmallStatement] = []
    for item in statement.body:
        assert isinstance(item, (cst.Import, cst.ImportFrom))
        if isinstance(item.names, cst.ImportStar):
            small.append(item)
            continue
        names = [a for a in item.names if _bound_name(a) not in gone]
        if names:
            names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
            small.append(item.with_changes(names=names))
    return statement.with_changes(body=small) if small else None
