"""Write new migration modules as libcst trees: deterministic and ``ruff format`` clean."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import libcst as cst

from ..operations import Operation
from .layout import layout
from .serializer import INDENT, FunctionRef, Imports, serialize

_BLANK = cst.EmptyLine(indent=False)


def _docstring(text: str) -> cst.SimpleStatementLine:
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return cst.SimpleStatementLine([cst.Expr(cst.SimpleString(f'"""{body}"""'))])


def _import_lines(imports: Imports) -> list[cst.SimpleStatementLine]:
    stdlib = [cst.Import([cst.ImportAlias(cst.Name(m))]) for m in sorted(imports.modules)]
    stdlib_from = [f for f in sorted(imports.froms) if not f[0].startswith("tortoise_march_ext")]
    ours = [f for f in sorted(imports.froms) if f[0].startswith("tortoise_march_ext")]

    def from_import(module: str, name: str) -> cst.ImportFrom:
        return cst.ImportFrom(
            module=cst.parse_expression(module),  # type: ignore[arg-type]
            names=[cst.ImportAlias(cst.Name(name))],
        )

    groups = [
        [*stdlib, *(from_import(*f) for f in stdlib_from)],
        [from_import(*f) for f in ours],
    ]
    lines: list[cst.SimpleStatementLine] = []
    for group in groups:
        for i, statement in enumerate(group):
            leading = [_BLANK] if i == 0 else []
            lines.append(cst.SimpleStatementLine([statement], leading_lines=leading))
    return lines


def _assign(name: str, value: Any, imports: Imports, blank: bool) -> cst.SimpleStatementLine:
    expression = layout(serialize(value, imports), INDENT, len(name) + 3, 0)
    return cst.SimpleStatementLine(
        [cst.Assign([cst.AssignTarget(cst.Name(name))], expression)],
        leading_lines=[_BLANK] if blank else [],
    )


def function_stub(name: str, params: Sequence[str], doc: str) -> cst.FunctionDef:
    """Return ``async def name(params): \"\"\"doc\"\"\"`` for hand-written code to fill in."""
    return cst.FunctionDef(
        name=cst.Name(name),
        params=cst.Parameters([cst.Param(cst.Name(p)) for p in params]),
        body=cst.IndentedBlock([_docstring(doc)]),
        asynchronous=cst.Asynchronous(),
        leading_lines=[_BLANK, _BLANK],
    )


def render_migration(
    docstring: str,
    dependencies: Sequence[tuple[str, str]],
    operations: Sequence[Operation],
    *,
    initial: bool = False,
    functions: Sequence[cst.FunctionDef] = (),
) -> str:
    """Return the source of a migration module (``functions`` go before the class)."""
    imports = Imports(froms={("tortoise_march_ext", "migrations")})
    body: list[cst.SimpleStatementLine] = []
    if initial:
        body.append(_assign("initial", True, imports, blank=False))
    deps = tuple(tuple(d) for d in dependencies)
    body.append(_assign("dependencies", deps, imports, blank=bool(body)))
    body.append(_assign("operations", tuple(operations), imports, blank=True))
    klass = cst.ClassDef(
        name=cst.Name("Migration"),
        bases=[cst.Arg(cst.parse_expression("migrations.Migration"))],
        body=cst.IndentedBlock(body),
        leading_lines=[_BLANK, _BLANK],
    )
    module = cst.Module(body=[_docstring(docstring), *_import_lines(imports), *functions, klass])
    return module.code


def data_migration_stub(dependencies: Sequence[tuple[str, str]], *, initial: bool = False) -> str:
    """Return an empty data migration: RunPython with forwards/backwards stubs to fill in."""
    from ..operations import RunPython

    functions = [
        function_stub(
            "forwards",
            ("apps", "connection"),
            'Change data here; apps.get_model("app.Model") gives the models as they are now.',
        ),
        function_stub(
            "backwards",
            ("apps", "connection"),
            "Undo forwards (or drop this function and backwards= to make it irreversible).",
        ),
    ]
    operation = RunPython(FunctionRef("forwards"), FunctionRef("backwards"))  # type: ignore[arg-type]
    return render_migration(
        "Data migration: fill in forwards and backwards.",
        dependencies,
        [operation],
        initial=initial,
        functions=functions,
    )


def describe_operations(operations: Sequence[Operation]) -> str:
    """Return the docstring of a migration doing ``operations``."""
    if not operations:
        return "Empty migration: add operations by hand."
    lines = [op.describe() for op in operations]
    if len(lines) == 1:
        return lines[0] + "."
    return lines[0] + ", and more.\n\n" + "\n".join(f"- {line}" for line in lines) + "\n"
