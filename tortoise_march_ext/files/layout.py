"""Lay out libcst expressions the way ``ruff format`` leaves them.

Flat when the expression fits on its line; otherwise one element per line with a trailing comma,
recursively. Both shapes are fixed points of ruff's formatter (the trailing comma is "magic").
Widths are measured as ruff measures them: an East Asian wide character counts two columns, a
combining mark none.
"""

from __future__ import annotations

import unicodedata

import libcst as cst

from .serializer import INDENT, LINE_LENGTH

_MODULE = cst.Module([])
_EMPTY = cst.SimpleWhitespace("")


def code(node: cst.CSTNode) -> str:
    """Return the source of ``node``."""
    return _MODULE.code_for_node(node)


def text_width(text: str) -> int:
    """Return the columns ``text`` takes in an editor, as ruff counts line width."""
    if text.isascii():
        return len(text)
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    if unicodedata.category(ch) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def break_to(indent: str) -> cst.ParenthesizedWhitespace:
    """Return a line break followed by ``indent`` (inside brackets)."""
    return cst.ParenthesizedWhitespace(
        first_line=cst.TrailingWhitespace(),
        empty_lines=[],
        indent=False,
        last_line=cst.SimpleWhitespace(indent),
    )


def _items(node: cst.BaseExpression) -> list[cst.CSTNode] | None:
    if isinstance(node, cst.Call):
        return list(node.args)
    if isinstance(node, (cst.List, cst.Tuple, cst.Dict)):
        return list(node.elements)
    return None


def _value_prefix(item: cst.CSTNode) -> int:
    if isinstance(item, cst.Arg) and item.keyword is not None:
        return text_width(item.keyword.value) + 1
    if isinstance(item, cst.DictElement):
        return text_width(code(flat(item.key))) + 2
    return 0


def _with_value(
    item: cst.CSTNode, value: cst.BaseExpression, comma: cst.Comma | None
) -> cst.CSTNode:
    if isinstance(item, cst.DictElement):
        return item.with_changes(
            key=flat(item.key), value=value, comma=comma or cst.MaybeSentinel.DEFAULT
        )
    return item.with_changes(value=value, comma=comma or cst.MaybeSentinel.DEFAULT)


def _rebuild(
    node: cst.BaseExpression, items: list[cst.CSTNode], opening: cst.BaseParenthesizableWhitespace
) -> cst.BaseExpression:
    if isinstance(node, cst.Call):
        return node.with_changes(args=items, whitespace_before_args=opening)
    if isinstance(node, cst.List):
        return node.with_changes(
            elements=items, lbracket=cst.LeftSquareBracket(whitespace_after=opening)
        )
    if isinstance(node, cst.Dict):
        return node.with_changes(
            elements=items, lbrace=cst.LeftCurlyBrace(whitespace_after=opening)
        )
    return node.with_changes(elements=items, lpar=[cst.LeftParen(whitespace_after=opening)])


def flat(node: cst.BaseExpression) -> cst.BaseExpression:
    """Return ``node`` on one line: ``a, b`` spacing, no trailing comma (but a 1-tuple's)."""
    items = _items(node)
    if items is None:
        return node
    last = len(items) - 1
    out = []
    for i, item in enumerate(items):
        if i < last:
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        elif isinstance(node, cst.Tuple) and len(items) == 1:
            comma = cst.Comma()
        else:
            comma = None
        out.append(_with_value(item, flat(item.value), comma))  # type: ignore[attr-defined]
    return _rebuild(node, out, _EMPTY)


def flat_length(node: cst.CSTNode, memo: dict[int, int]) -> int:
    """Return the width of ``node`` written flat, from its parts (no code generation).

    Laying out a large migration asks this at every nesting level; generating code there each
    time would cost the size of the subtree per level.
    """
    key = id(node)
    if key not in memo:
        memo[key] = _flat_length(node, memo)
    return memo[key]


def _flat_length(node: cst.CSTNode, memo: dict[int, int]) -> int:
    if isinstance(node, (cst.Name, cst.SimpleString, cst.Integer, cst.Float)):
        return text_width(node.value)
    if isinstance(node, cst.Attribute):
        return flat_length(node.value, memo) + 1 + text_width(node.attr.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus):
        return 1 + flat_length(node.expression, memo)
    items = _items(node)  # type: ignore[arg-type]
    if items is None:
        return text_width(code(node))
    values: list[cst.CSTNode] = [i.value for i in items]  # type: ignore[attr-defined]
    inner = sum(_value_prefix(i) for i in items) + sum(flat_length(v, memo) for v in values)
    inner += 2 * max(len(items) - 1, 0)
    if isinstance(node, cst.Tuple) and len(items) == 1:
        inner += 1
    head = flat_length(node.func, memo) if isinstance(node, cst.Call) else 0
    return head + 2 + inner


def layout(
    node: cst.BaseExpression,
    indent: str,
    prefix: int,
    suffix: int,
    memo: dict[int, int] | None = None,
) -> cst.BaseExpression:
    """Return ``node`` laid out for a line starting with ``indent`` and ``prefix`` characters."""
    memo = {} if memo is None else memo
    items = _items(node)
    if not items or flat_length(node, memo) <= LINE_LENGTH - len(indent) - prefix - suffix:
        return flat(node)
    inner = indent + INDENT
    out = []
    for i, item in enumerate(items):
        value = layout(item.value, inner, _value_prefix(item), 1, memo)  # type: ignore[attr-defined]
        after = inner if i < len(items) - 1 else indent
        out.append(_with_value(item, value, cst.Comma(whitespace_after=break_to(after))))
    return _rebuild(node, out, break_to(inner))
