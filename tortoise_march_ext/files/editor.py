"""Edits of existing migration modules with libcst: copy functions out of them (squash) and fold
new operations into them (``makemigrations --update``).

Nothing here rewrites what it does not have to: hand-written functions are copied node for node
with their comments, and an updated module keeps every statement and operation it had.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import libcst as cst

from ..exceptions import MigrationFileError
from ..operations import Operation
from .layout import break_to, code, layout
from .serializer import INDENT, Imports, serialize
from .writer import BLANK, docstring_line, import_key, import_lines

Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement

# -- copying functions (squash) ------------------------------------------------------------------


class _Names(cst.CSTVisitor):
    """Collect the names a statement reads (attribute names and keywords left out)."""

    def __init__(self) -> None:
        self.names: set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        node.value.visit(self)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        node.value.visit(self)
        return False


class _Rename(cst.CSTTransformer):
    """Rename module-level names (not attribute names or keyword argument names)."""

    def __init__(self, renames: dict[str, str]) -> None:
        self.renames = renames

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.Name:
        return updated.with_changes(value=self.renames.get(updated.value, updated.value))

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.Attribute:
        return updated.with_changes(attr=original.attr)

    def leave_Arg(self, original: cst.Arg, updated: cst.Arg) -> cst.Arg:
        return updated.with_changes(keyword=original.keyword)


def _used(node: cst.CSTNode) -> set[str]:
    visitor = _Names()
    node.visit(visitor)
    return visitor.names


def _bound(statement: cst.CSTNode) -> list[str]:
    """Return the module-level names a top-level definition binds."""
    if isinstance(statement, (cst.FunctionDef, cst.ClassDef)):
        return [statement.name.value]
    names = []
    if isinstance(statement, cst.SimpleStatementLine):
        for small in statement.body:
            targets = []
            if isinstance(small, cst.Assign):
                targets = [t.target for t in small.targets]
            elif isinstance(small, cst.AnnAssign):
                targets = [small.target]
            names += [t.value for t in targets if isinstance(t, cst.Name)]
    return names


def _imports(statement: cst.CSTNode) -> list[tuple[str, str, str]]:
    """Return (bound name, module, member) for each alias of an import line (member "" for a
    plain ``import module``; both may end in ``as alias``)."""
    out: list[tuple[str, str, str]] = []
    if not isinstance(statement, cst.SimpleStatementLine):
        return out
    for small in statement.body:
        if isinstance(small, cst.Import):
            for alias in small.names:
                name = code(alias.name)
                asname = code(alias.asname.name) if alias.asname else ""
                module = f"{name} as {asname}" if asname else name
                out.append((asname or name.split(".")[0], module, ""))
        elif isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
            module = "." * len(small.relative) + (code(small.module) if small.module else "")
            for alias in small.names:
                name = code(alias.name)
                asname = code(alias.asname.name) if alias.asname else ""
                out.append((asname or name, module, f"{name} as {asname}" if asname else name))
    return out


@dataclass
class FunctionSource:
    """Functions to copy out of one migration module; clashing names get ``_<suffix>``."""

    path: Path
    source: str
    names: list[str]
    suffix: str
    renamed: dict[str, str] = field(default_factory=dict)


def copy_functions(sources: Sequence[FunctionSource], imports: Imports) -> list[Statement]:
    """Return the named functions and what they use at module level (helpers, constants), in
    source order, adding the imports they need to ``imports``; fill in each source's
    ``renamed`` (old name -> name in the new module)."""
    definitions: list[Statement] = []
    taken: dict[str, str] = {}  # name in the new module -> code of what it binds
    for src in sources:
        try:
            module = cst.parse_module(src.source)
        except cst.ParserSyntaxError as exc:
            where = str(src.path)
            raise MigrationFileError(f"{where}: cannot parse: {exc}", path=where) from exc
        defined = {name: s for s in module.body for name in _bound(s)}
        imported = {bound: (m, n) for s in module.body for bound, m, n in _imports(s)}
        wanted: list[cst.BaseStatement] = []
        queue = list(src.names)
        done: set[str] = set()
        while queue:
            name = queue.pop(0)
            if name in done:
                continue
            done.add(name)
            if name in defined:
                if defined[name] not in wanted:
                    wanted.append(defined[name])
                queue += sorted(_used(defined[name]))
            elif name in imported:
                module_name, member = imported[name]
                if member:
                    imports.froms.add((module_name, member))
                else:
                    imports.modules.add(module_name)
        wanted.sort(key=module.body.index)
        _choose_names(src, wanted, taken)
        renamer = _Rename(src.renamed)
        for statement in wanted:
            renamed = statement.visit(renamer)
            if not isinstance(renamed, cst.SimpleStatementLine | cst.BaseCompoundStatement):
                raise TypeError(f"renaming changed a statement into {type(renamed).__name__}")
            text = code(renamed)
            names = [src.renamed[n] for n in _bound(statement)]
            if all(taken.get(n) == text for n in names):
                continue  # the same definition came from an earlier module
            for n in names:
                taken[n] = text
            comments = [line for line in renamed.leading_lines if line.comment is not None]
            # isort wants one blank line between imports and a statement, two before a def.
            simple = not definitions and isinstance(renamed, cst.SimpleStatementLine)
            blanks = [BLANK] if simple else [BLANK, BLANK]
            definitions.append(renamed.with_changes(leading_lines=[*blanks, *comments]))
    return definitions


def _choose_names(
    src: FunctionSource, wanted: list[cst.BaseStatement], taken: dict[str, str]
) -> None:
    """Keep each definition's name unless an earlier module copied a different one under it."""
    for statement in wanted:
        text = code(statement)
        for name in _bound(statement):
            new = name if taken.get(name, text) == text else f"{name}_{src.suffix}"
            if taken.get(new, text) != text:
                raise MigrationFileError(
                    f"{src.path}: cannot copy {name!r}: the name {new!r} is taken; rename it "
                    "by hand before squashing",
                    path=str(src.path),
                )
            src.renamed[name] = new


# -- folding operations into a module (--update) -------------------------------------------------


def _class_body(module: cst.Module, path: Path) -> cst.ClassDef:
    for statement in module.body:
        if isinstance(statement, cst.ClassDef) and statement.name.value == "Migration":
            return statement
    raise MigrationFileError(f"{path}: no Migration class to update", path=str(path))


def _assigned(klass: cst.ClassDef, name: str) -> cst.Assign | None:
    for statement in klass.body.body:
        if isinstance(statement, cst.SimpleStatementLine):
            for small in statement.body:
                if (
                    isinstance(small, cst.Assign)
                    and len(small.targets) == 1
                    and isinstance(small.targets[0].target, cst.Name)
                    and small.targets[0].target.value == name
                ):
                    return small
    return None


def _sequence(assign: cst.Assign | None, name: str, path: Path) -> cst.List | cst.Tuple:
    if assign is None or not isinstance(assign.value, (cst.List, cst.Tuple)):
        raise MigrationFileError(
            f"{path}: {name} is not a literal list or tuple, so --update cannot edit it; write "
            "a new migration instead (drop --update)",
            path=str(path),
        )
    return assign.value


def _comma_to(element: cst.BaseElement, indent: str) -> cst.BaseElement:
    """Return ``element`` with a trailing comma that breaks the line to ``indent``, keeping
    the comments that were attached to its comma."""
    comma = element.comma
    if isinstance(comma, cst.Comma) and isinstance(
        comma.whitespace_after, cst.ParenthesizedWhitespace
    ):
        after = comma.whitespace_after.with_changes(
            indent=False, last_line=cst.SimpleWhitespace(indent)
        )
        return element.with_changes(comma=comma.with_changes(whitespace_after=after))
    return element.with_changes(
        comma=cst.Comma(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=break_to(indent)
        )
    )


def _edit_sequence(
    node: cst.List | cst.Tuple,
    elements: list[cst.BaseElement | cst.BaseExpression],
    indent: str,
    prefix: int,
) -> cst.BaseExpression:
    """Return ``node`` holding ``elements`` (kept nodes as they are, new expressions laid out)."""
    expanded = "\n" in code(node) and elements
    if not expanded:
        values = [e.value if isinstance(e, cst.BaseElement) else e for e in elements]
        rebuilt = node.with_changes(elements=[cst.Element(v) for v in values])
        if isinstance(node, cst.Tuple):
            rebuilt = rebuilt.with_changes(lpar=[cst.LeftParen()], rpar=[cst.RightParen()])
        return layout(rebuilt, indent, prefix, 0)
    node, elements = _closing_to_comma(node, elements)
    inner = indent + INDENT
    out = []
    for i, element in enumerate(elements):
        if not isinstance(element, cst.BaseElement):
            element = cst.Element(layout(element, inner, 0, 1))
        out.append(_comma_to(element, inner if i < len(elements) - 1 else indent))
    return node.with_changes(elements=out)


def _closing_to_comma(
    node: cst.List | cst.Tuple, elements: list[cst.BaseElement | cst.BaseExpression]
) -> tuple[cst.List | cst.Tuple, list[cst.BaseElement | cst.BaseExpression]]:
    """Move the line break (and comments) before the closing bracket onto the comma of the
    element it followed, so elements can be added after it."""
    closing: cst.RightParen | cst.RightSquareBracket
    if isinstance(node, cst.Tuple):
        closing = node.rpar[0]
    else:
        closing = node.rbracket
    before = closing.whitespace_before
    last = node.elements[-1] if node.elements else None
    if not isinstance(before, cst.ParenthesizedWhitespace) or last is None:
        return node, elements
    comma = last.comma if isinstance(last.comma, cst.Comma) else cst.Comma()
    moved = last.with_changes(comma=comma.with_changes(whitespace_after=before))
    elements = [moved if e is last else e for e in elements]
    closing = closing.with_changes(whitespace_before=cst.SimpleWhitespace(""))
    if isinstance(node, cst.Tuple):
        return node.with_changes(rpar=[closing]), elements
    return node.with_changes(rbracket=closing), elements


@dataclass
class Update:
    """The new content of a migration module being updated."""

    operations: list[Operation]
    add_dependencies: list[tuple[str, str]]
    docstring: str | None


def update_module(path: Path, source: str, old: Sequence[Operation], update: Update) -> str:
    """Return ``source`` with its operations replaced by ``update.operations``.

    An operation equal to one the module already has keeps its original node (comments
    included); the others are written fresh. Everything outside ``dependencies``,
    ``operations``, the docstring (only when ``update.docstring`` is given) and the imports the
    new operations need is left as it was.
    """
    module = cst.parse_module(source)
    klass = _class_body(module, path)
    imports = Imports()
    ops_node = _sequence(_assigned(klass, "operations"), "operations", path)
    deps_node = _sequence(_assigned(klass, "dependencies"), "dependencies", path)
    indent = INDENT
    originals = list(ops_node.elements)
    if len(originals) != len(old):
        raise MigrationFileError(
            f"{path}: operations holds {len(originals)} entries but the module defines "
            f"{len(old)}; write a new migration instead (drop --update)",
            path=str(path),
        )
    unused = list(range(len(old)))
    new_elements: list[cst.BaseElement | cst.BaseExpression] = []
    for operation in update.operations:
        match = next((i for i in unused if old[i] == operation), None)
        if match is not None:
            unused.remove(match)
            new_elements.append(originals[match])
        else:
            new_elements.append(serialize(operation, imports))
    dep_elements: list[cst.BaseElement | cst.BaseExpression] = list(deps_node.elements)
    dep_elements += [serialize(tuple(dep), imports) for dep in update.add_dependencies]

    class _Edit(cst.CSTTransformer):
        def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
            if original.value is ops_node:
                value = _edit_sequence(ops_node, new_elements, indent, len("operations = "))
                return updated.with_changes(value=value)
            if original.value is deps_node and update.add_dependencies:
                value = _edit_sequence(deps_node, dep_elements, indent, len("dependencies = "))
                return updated.with_changes(value=value)
            return updated

    edited = module.visit(_Edit())
    body = list(edited.body)
    if update.docstring is not None and body and _is_docstring(body[0]):
        body[0] = docstring_line(update.docstring).with_changes(leading_lines=body[0].leading_lines)
    _insert_imports(body, imports)
    return edited.with_changes(body=body).code


def _insert_imports(body: list[Statement], imports: Imports) -> None:
    """Insert the import lines ``imports`` needs and ``body`` lacks, each where isort puts it."""
    present = {code(s).strip() for s in body if isinstance(s, cst.SimpleStatementLine)}
    positions = [i for i, s in enumerate(body) if _imports(s)]
    for line in import_lines(imports):
        if code(line).strip() in present:
            continue
        key = _line_key(line)
        later = [i for i in positions if _line_key(body[i]) > key]
        if later:
            at = later[0]
            same = _line_key(body[at])[0] == key[0]
            body[at : at + 1] = [
                line.with_changes(leading_lines=body[at].leading_lines),
                body[at].with_changes(leading_lines=[] if same else [BLANK]),
            ]
        else:
            at = positions[-1] + 1 if positions else 1
            same = bool(positions) and _line_key(body[positions[-1]])[0] == key[0]
            body.insert(at, line.with_changes(leading_lines=[] if same else [BLANK]))
        positions = [i for i, s in enumerate(body) if _imports(s)]


def _line_key(statement: cst.BaseStatement) -> tuple[int, int, str]:
    small = statement.body[0]  # type: ignore[attr-defined]
    kind = "import" if isinstance(small, cst.Import) else "from"
    return import_key(kind, _imports(statement)[0][1].split(" as ")[0])


def _is_docstring(statement: cst.CSTNode) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    )
