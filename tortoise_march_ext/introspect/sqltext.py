"""A small tokenizer for the SQL SQLite keeps in ``sqlite_master``.

PRAGMAs do not tell constraint names, check expressions, AUTOINCREMENT or generated column
expressions; this reads them from the ``CREATE TABLE`` / ``CREATE INDEX`` text and renders
expressions in one canonical spelling so formatting differences do not count.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<line_comment>--[^\n]*)
  | (?P<block_comment>/\*.*?(?:\*/|\Z))
  | (?P<string>'(?:[^']|'')*')
  | (?P<blob>[xX]'[0-9a-fA-F]*')
  | (?P<dquote>"(?:[^"]|"")*")
  | (?P<backtick>`(?:[^`]|``)*`)
  | (?P<bracket>\[[^\]]*\])
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<word>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)
  | (?P<param>[?:@$][A-Za-z0-9_]*)
  | (?P<op>\|\||->>|->|<=|>=|==|!=|<>|<<|>>|[-+*/%<>=~&|!,.;()])
    """,
    re.VERBOSE | re.DOTALL,
)

_PLAIN_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

# Words after which "(" keeps a space before it (operators and clause keywords, not functions).
_SPACED_BEFORE_PAREN = {
    "AND", "OR", "NOT", "IN", "IS", "BETWEEN", "LIKE", "GLOB", "REGEXP", "MATCH", "ESCAPE",
    "CASE", "WHEN", "THEN", "ELSE", "EXISTS", "CHECK", "AS", "ON", "WHERE", "DEFAULT",
}  # fmt: skip


class _Token:
    """One SQL token: ``kind`` is word, ident (quoted identifier), string, number, op, ..."""

    __slots__ = ("kind", "text", "value")

    def __init__(self, kind: str, text: str, value: str) -> None:
        self.kind = kind
        self.text = text
        self.value = value

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and self.value.upper() in words

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return f"_Token({self.kind!r}, {self.text!r})"


def _tokenize(sql: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(sql):
        match = _TOKEN_RE.match(sql, position)
        if match is None:  # an unexpected character: keep it as an operator of its own
            tokens.append(_Token("op", sql[position], sql[position]))
            position += 1
            continue
        position = match.end()
        kind = match.lastgroup or "op"
        text = match.group()
        if kind in ("space", "line_comment", "block_comment"):
            continue
        if kind == "dquote":
            tokens.append(_Token("ident", text, text[1:-1].replace('""', '"')))
        elif kind == "backtick":
            tokens.append(_Token("ident", text, text[1:-1].replace("``", "`")))
        elif kind == "bracket":
            tokens.append(_Token("ident", text, text[1:-1]))
        else:
            tokens.append(_Token(kind, text, text))
    return tokens


def _matching_paren(tokens: Sequence[_Token], start: int) -> int:
    """Return the index of the ``)`` closing the ``(`` at ``start`` (or ``len(tokens)``)."""
    depth = 0
    for index in range(start, len(tokens)):
        text = tokens[index].text
        if tokens[index].kind != "op":
            continue
        if text == "(":
            depth += 1
        elif text == ")":
            depth -= 1
            if depth == 0:
                return index
    return len(tokens)


def _split_top_level(tokens: Sequence[_Token]) -> list[list[_Token]]:
    """Split ``tokens`` on the commas that are not inside parentheses."""
    items: list[list[_Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.kind == "op" and token.text == "(":
            depth += 1
        elif token.kind == "op" and token.text == ")":
            depth -= 1
        elif token.kind == "op" and token.text == "," and depth == 0:
            items.append([])
            continue
        items[-1].append(token)
    return [item for item in items if item]


def _render(tokens: Sequence[_Token]) -> str:
    """Render tokens in one canonical spelling, so formatting differences disappear."""
    parts: list[str] = []
    previous: _Token | None = None
    for token in tokens:
        if token.kind == "ident":
            value = token.value
            text = value if _PLAIN_IDENT.match(value) else '"' + value.replace('"', '""') + '"'
        else:
            text = token.text
        if previous is not None:
            glue = " "
            if previous.kind == "op" and previous.text in ("(", "."):
                glue = ""
            elif token.kind == "op" and token.text in (")", ",", "."):
                glue = ""
            elif token.kind == "op" and token.text == "(":
                if previous.kind == "ident" or (
                    previous.kind == "word" and previous.value.upper() not in _SPACED_BEFORE_PAREN
                ):
                    glue = ""
            parts.append(glue)
        parts.append(text)
        previous = token
    return "".join(parts).rstrip(";").strip()


def _name_of(token: _Token) -> str:
    return token.value if token.kind in ("ident", "word", "string") else token.text


def _group_names(tokens: Sequence[_Token]) -> tuple[str, ...]:
    """Return the column names of a ``(a, b COLLATE x DESC)`` list (without the parens)."""
    return tuple(_name_of(item[0]) for item in _split_top_level(tokens))


class _TableSql:
    """What ``PRAGMA`` does not tell about a table, read from its ``CREATE TABLE`` text."""

    def __init__(self, sql: str | None) -> None:
        self.checks: list[tuple[str | None, str]] = []
        self.unique_names: dict[tuple[str, ...], list[str | None]] = {}
        self.autoincrement: set[str] = set()
        self.generated: dict[str, str] = {}
        if sql:
            self._parse(_tokenize(sql))

    def unique_name(self, columns: tuple[str, ...]) -> str | None:
        names = self.unique_names.get(tuple(c.lower() for c in columns))
        return names.pop(0) if names else None

    def _parse(self, tokens: list[_Token]) -> None:
        start = next((i for i, t in enumerate(tokens) if t.kind == "op" and t.text == "("), None)
        if start is None:  # CREATE TABLE ... AS SELECT
            return
        end = _matching_paren(tokens, start)
        for item in _split_top_level(tokens[start + 1 : end]):
            self._parse_item(item)

    def _parse_item(self, item: list[_Token]) -> None:
        is_table_constraint = item[0].is_word("CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN")
        column = None if is_table_constraint else _name_of(item[0])
        pending_name: str | None = None
        index = 0 if is_table_constraint else 1
        while index < len(item):
            token = item[index]
            following = item[index + 1] if index + 1 < len(item) else None
            opens_group = following is not None and following.kind == "op" and following.text == "("
            if token.kind == "op" and token.text == "(":
                index = _matching_paren(item, index) + 1
                continue
            if token.is_word("CONSTRAINT") and following is not None:
                pending_name = _name_of(following)
                index += 2
                continue
            if token.is_word("CHECK") and opens_group:
                close = _matching_paren(item, index + 1)
                self.checks.append((pending_name, _render(item[index + 2 : close])))
                pending_name = None
                index = close + 1
                continue
            if token.is_word("UNIQUE"):
                if column is None and opens_group:
                    close = _matching_paren(item, index + 1)
                    columns = _group_names(item[index + 2 : close])
                    index = close + 1
                else:
                    columns = (column,) if column is not None else ()
                    index += 1
                key = tuple(c.lower() for c in columns)
                self.unique_names.setdefault(key, []).append(pending_name)
                pending_name = None
                continue
            if token.is_word("AS") and opens_group and column is not None:
                close = _matching_paren(item, index + 1)
                after = item[close + 1] if close + 1 < len(item) else None
                kind = "STORED" if after is not None and after.is_word("STORED") else "VIRTUAL"
                expression = _render(item[index + 2 : close])
                self.generated[column] = f"GENERATED ALWAYS AS ({expression}) {kind}"
                pending_name = None
                index = close + 1
                continue
            if token.is_word("AUTOINCREMENT") and column is not None:
                self.autoincrement.add(column)
            elif token.is_word("PRIMARY", "NOT", "NULL", "DEFAULT", "COLLATE", "REFERENCES",
                               "FOREIGN", "GENERATED", "AS"):  # fmt: skip
                pending_name = None
            index += 1


def _index_sql_parts(sql: str | None) -> tuple[list[str], str | None]:
    """Return (rendered key entries, rendered WHERE predicate) of a ``CREATE INDEX`` text."""
    if not sql:
        return [], None
    tokens = _tokenize(sql)
    on = next((i for i, t in enumerate(tokens) if t.is_word("ON")), None)
    if on is None:
        return [], None
    start = next(
        (i for i in range(on, len(tokens)) if tokens[i].kind == "op" and tokens[i].text == "("),
        None,
    )
    if start is None:
        return [], None
    end = _matching_paren(tokens, start)
    entries = []
    for item in _split_top_level(tokens[start + 1 : end]):
        # Order and collation are reported by PRAGMA index_xinfo; keep only the expression.
        while item and item[-1].is_word("ASC", "DESC"):
            item = item[:-1]
        if len(item) >= 2 and item[-2].is_word("COLLATE"):
            item = item[:-2]
        entries.append(_render(item))
    rest = [t for t in tokens[end + 1 :] if not (t.kind == "op" and t.text == ";")]
    predicate = None
    if rest and rest[0].is_word("WHERE"):
        predicate = _render(rest[1:])
    return entries, predicate
