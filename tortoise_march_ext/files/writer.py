"""Write new migration modules as libcst trees: deterministic and ``ruff format`` clean."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

import libcst as cst

from ..operations import Operation
from .layout import layout
from .serializer import INDENT, FunctionRef, Imports, serialize

BLANK = cst.EmptyLine(indent=False)


def docstring_line(text: str) -> cst.SimpleStatementLine:
    """Return a module docstring statement."""
    body = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
    return cst.SimpleStatementLine([cst.Expr(cst.SimpleString(f'"""{body}"""'))])


def import_key(kind: str, module: str) -> tuple[int, int, str]:
    """Return the isort position of an import line: section, straight before from, module."""
    top = module.split(".")[0]
    if module.startswith("."):
        section = 3
    elif top in sys.stdlib_module_names:
        section = 0
    else:
        section = 2 if _first_party(top) else 1
    return section, 0 if kind == "import" else 1, module.lower()


def _first_party(top: str) -> bool:
    """Return whether ruff, run from the project, sees ``top`` as first party: the user's own
    package (a callable default's module), not an installed one nor this package."""
    if top == "tortoise_march_ext":
        return False
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return False
    origin = (spec.origin or "") if spec else ""
    return bool(origin) and not any(p in origin for p in ("site-packages", "dist-packages"))


def _member_key(name: str) -> tuple[int, str]:
    head = name.split(" as ")[0]
    kind = 0 if head.isupper() and len(head) > 1 else 1 if head[:1].isupper() else 2
    return kind, head


def import_lines(imports: Imports) -> list[cst.SimpleStatementLine]:
    """Return the import lines of ``imports`` as isort (ruff's ``I`` rules) orders them:
    standard library, third party (this package included), first party, relative imports."""
    members: dict[str, list[str]] = {}
    for module, name in imports.froms:
        members.setdefault(module, []).append(name)
    entries = [(import_key("import", m), f"import {m}") for m in imports.modules]
    for module, names in members.items():
        listed = ", ".join(sorted(set(names), key=_member_key))
        entries.append((import_key("from", module), f"from {module} import {listed}"))
    lines: list[cst.SimpleStatementLine] = []
    section = None
    for key, text in sorted(entries):
        statement = cst.parse_statement(text)
        assert isinstance(statement, cst.SimpleStatementLine)
        leading = [BLANK] if key[0] != section else []
        section = key[0]
        lines.append(statement.with_changes(leading_lines=leading))
    return lines


def _assign(name: str, value: Any, imports: Imports, blank: bool) -> cst.SimpleStatementLine:
    expression = layout(serialize(value, imports), INDENT, len(name) + 3, 0)
    return cst.SimpleStatementLine(
        [cst.Assign([cst.AssignTarget(cst.Name(name))], expression)],
        leading_lines=[BLANK] if blank else [],
    )


def function_stub(name: str, params: Sequence[str], doc: str) -> cst.FunctionDef:
    """Return ``async def name(params): \"\"\"doc\"\"\"`` for hand-written code to fill in."""
    return cst.FunctionDef(
        name=cst.Name(name),
        params=cst.Parameters([cst.Param(cst.Name(p)) for p in params]),
        body=cst.IndentedBlock([docstring_line(doc)]),
        asynchronous=cst.Asynchronous(),
        leading_lines=[BLANK, BLANK],
    )


def render_migration(
    docstring: str,
    dependencies: Sequence[tuple[str, str]],
    operations: Sequence[Operation],
    *,
    initial: bool = False,
    functions: Sequence[cst.SimpleStatementLine | cst.BaseCompoundStatement] = (),
    replaces: Sequence[tuple[str, str]] = (),
    atomic: bool = True,
    imports: Imports | None = None,
    atomic_reason: str = "",
) -> str:
    """Return the source of a migration module (``functions`` go before the class; ``imports``
    adds to what the operations need)."""
    imports = imports or Imports()
    imports.froms.add(("tortoise_march_ext", "migrations"))
    body: list[cst.SimpleStatementLine] = []
    if initial:
        body.append(_assign("initial", True, imports, blank=False))
    if not atomic:
        line = _assign("atomic", False, imports, blank=False)
        if atomic_reason:
            comment = cst.EmptyLine(indent=True, comment=cst.Comment(f"# {atomic_reason}"))
            line = line.with_changes(leading_lines=[comment])
        body.append(line)
    deps = tuple(tuple(d) for d in dependencies)
    body.append(_assign("dependencies", deps, imports, blank=bool(body)))
    if replaces:
        body.append(_assign("replaces", tuple(tuple(r) for r in replaces), imports, blank=True))
    body.append(_assign("operations", tuple(operations), imports, blank=True))
    klass = cst.ClassDef(
        name=cst.Name("Migration"),
        bases=[cst.Arg(cst.parse_expression("migrations.Migration"))],
        body=cst.IndentedBlock(body),
        leading_lines=[BLANK, BLANK],
    )
    head = [docstring_line(docstring), *import_lines(imports)]
    return cst.Module(body=[*head, *functions, klass]).code


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
