"""The migration checksum: SHA-256 of a canonical token stream that no Python release changes.

Owns :func:`checksum` (the recorder's ``checksum`` column); ``legacy_checksum.py`` recognises
the digests of the old scheme. Standard library only and import-light: app start-up
(``ensure_migrated()``) uses it, and the cross-Python test imports this file alone by path.

The canonical form is one entry per statement: its block depth and its tokens. Dropped (so they
never change the checksum): comments, blank lines, line breaks and backslash continuations,
indentation width, ``;`` versus a new line, a one-line compound body versus an indented block,
trailing commas that do not make a tuple, parentheses around an import list and around a whole
statement slot (the value after ``=``/``return``, an ``if``/``while`` condition, a ``for`` target
or iterable, an element between top-level commas), string quote style, prefix case, escapes and
implicit concatenation (each literal is evaluated and re-rendered), the spelling of numbers, and
the indentation and trailing blanks of docstrings, as ruff format rewrites them (of every string
statement; docstrings are code, so their words count). Everything else stays, so any other edit
changes the checksum; that includes parentheses anywhere else (around ``with`` items, ``del (a,
b)``, operands), which ruff format seldom touches and which can change what the code means.
f-strings are read from their source text by one scanner, so 3.12's FSTRING_* tokens and older
Pythons' single STRING token agree.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import tokenize
import warnings
from dataclasses import dataclass
from typing import Any

SCHEME = "tokens-1"
"""The name of the current scheme (for caches that store checksums)."""

_KEYWORDS = frozenset(
    "and as assert async await break class continue def del elif else except finally for from "
    "global if import in is lambda nonlocal not or pass raise return try while with yield".split()
)
_HEADERS = frozenset(
    "async class def elif else except finally for if match try while with case".split()
)
_SOFT_HEADERS = frozenset({"match", "case"})
_ASSIGN = frozenset("= += -= *= /= //= %= @= &= |= ^= >>= <<= **=".split())
_SLOT_KEYWORDS = frozenset({"return", "assert", "del", "raise", "if", "elif", "while", "for"})
_OPEN, _CLOSE = "([{", ")]}"
_STRING_STARTS = frozenset({"FSTRING_START", "TSTRING_START"})
_STRING_ENDS = frozenset({"FSTRING_END", "TSTRING_END"})


@dataclass(frozen=True)
class Tok:
    """One canonical token: ``n`` name, ``o`` operator, ``d`` number, ``s`` str, ``b`` bytes,
    ``f`` f-string (its parts as JSON); ``text`` is the canonical spelling."""

    kind: str
    text: str

    def op(self, *texts: str) -> bool:
        """Return whether this is one of the operators ``texts``."""
        return self.kind == "o" and self.text in texts

    def name(self, *texts: str) -> bool:
        """Return whether this is one of the names ``texts``."""
        return self.kind == "n" and self.text in texts


# -- the new scheme --------------------------------------------------------------------------------
def checksum(source: str) -> str:
    """Return the SHA-256 of the canonical token stream of ``source``."""
    return hashlib.sha256(canonical(source).encode("ascii")).hexdigest()


def canonical(source: str) -> str:
    """Return the canonical form of ``source`` (ASCII JSON, one entry per statement)."""
    entries = [[depth, *(t.kind + t.text for t in toks)] for depth, toks in statements(source)]
    return json.dumps(entries, ensure_ascii=True, separators=(",", ":"))


def statements(source: str) -> list[tuple[int, list[Tok]]]:
    """Return each statement of ``source`` as (block depth, canonical tokens)."""
    out: list[tuple[int, list[Tok]]] = []
    for depth, toks in _logical_lines(source):
        for seg_depth, seg in _segments(depth, toks):
            seg = _unwrap(seg)
            if len(seg) == 1 and seg[0].kind == "s":
                seg = [Tok("s", _json(_clean_doc(json.loads(seg[0].text))))]
            out.append((seg_depth, seg))
    return out


def _logical_lines(source: str) -> list[tuple[int, list[Tok]]]:
    lines = io.StringIO(source).readlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError) as exc:
        raise SyntaxError(f"cannot tokenize: {exc}") from exc
    out: list[tuple[int, list[Tok]]] = []
    line: list[Tok] = []
    strings: list[str] = []
    depth, i = 0, -1
    while i + 1 < len(tokens):
        i += 1
        kind = tokenize.tok_name[tokens[i].type]
        if kind == "STRING":
            strings.append(tokens[i].string)
            continue
        if kind in _STRING_STARTS:
            i, text = _fstring_span(tokens, i, lines)
            strings.append(text)
            continue
        if kind in ("COMMENT", "NL", "ENCODING"):
            continue
        if strings:
            line.append(_string_group(strings))
            strings = []
        if kind in ("INDENT", "DEDENT"):
            depth += 1 if kind == "INDENT" else -1
        elif kind in ("NEWLINE", "ENDMARKER"):
            if line:
                out.append((depth, line))
            line = []
        else:
            line.append(_token(kind, tokens[i].string))
    return out


def _token(kind: str, text: str) -> Tok:
    if kind == "NAME":
        return Tok("n", text)
    if kind == "NUMBER":
        return Tok("d", _number(text))
    return Tok("o", text)


def _fstring_span(tokens: list[tokenize.TokenInfo], i: int, lines: list[str]) -> tuple[int, str]:
    """Return the index of the FSTRING_END closing the f-string at ``i``, and its source text."""
    start, nested = tokens[i].start, 0
    while True:
        kind = tokenize.tok_name[tokens[i].type]
        nested += (kind in _STRING_STARTS) - (kind in _STRING_ENDS)
        if nested == 0:
            break
        i += 1
    (sr, sc), (er, ec) = start, tokens[i].end
    if sr == er:
        return i, lines[sr - 1][sc:ec]
    return i, lines[sr - 1][sc:] + "".join(lines[sr : er - 1]) + lines[er - 1][:ec]


def _number(text: str) -> str:
    value = ast.literal_eval(text)
    if isinstance(value, complex):
        return "j" + value.imag.hex()
    if isinstance(value, float):
        return "f" + value.hex()
    return "i" + format(value, "x")


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"))


# -- strings ---------------------------------------------------------------------------------------
def _string_group(texts: list[str]) -> Tok:
    """Return the canonical token of implicitly concatenated literals."""
    parts: list[list[Any]] = []
    template = ""
    for text in texts:
        prefix = _prefix(text).lower()
        if "f" in prefix or "t" in prefix:
            template = template or ("t" if "t" in prefix else "f")
            parts.extend(_fstring_parts(text))
            continue
        value = ast.literal_eval(text)
        if isinstance(value, bytes):
            return Tok("b", b"".join(ast.literal_eval(t) for t in texts).hex())
        parts.append(["l", value])
    merged = _merge(parts)
    if not template:
        return Tok("s", _json(merged[0][1] if merged else ""))
    return Tok("f", _json([template, *merged]))


def _prefix(text: str) -> str:
    end = 0
    while text[end] not in "'\"":
        end += 1
    return text[:end]


def _merge(parts: list[list[Any]]) -> list[list[Any]]:
    out: list[list[Any]] = []
    for part in parts:
        if part[0] == "l" and out and out[-1][0] == "l":
            out[-1] = ["l", out[-1][1] + part[1]]
        elif part != ["l", ""]:
            out.append(part)
    return out


def _fstring_parts(text: str) -> list[list[Any]]:
    """Return the literal and replacement-field parts of one f-string's source text."""
    prefix = _prefix(text)
    rest = text[len(prefix) :]
    quote = rest[:3] if rest[:3] in ('"""', "'''") else rest[0]
    body = rest[len(quote) : len(rest) - len(quote)]
    parts, _ = _scan(body, 0, "r" in prefix.lower(), spec=False)
    return parts


def _scan(s: str, i: int, raw: bool, *, spec: bool) -> tuple[list[list[Any]], int]:
    parts: list[list[Any]] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            text = "".join(literal)
            parts.append(["l", text if raw else _unescape(text)])
            literal.clear()

    while i < len(s):
        c = s[i]
        if c == "\\" and not raw:
            end = s.find("}", i) + 1 if s.startswith("N{", i + 1) else i + 2
            end = end if end > i else len(s)
            if s[i + 1 : i + 2] in ("{", "}"):
                end = i + 1
            literal.append(s[i:end])
            i = end
        elif c == "{" and not s.startswith("{{", i) or c == "{" and spec:
            flush()
            field, i = _field(s, i + 1, raw)
            parts.extend(field)
        elif c == "}" and spec:
            break
        elif c in "{}":
            literal.append(c)
            i += 2 if s.startswith(c * 2, i) else 1
        else:
            literal.append(c)
            i += 1
    flush()
    return parts, i


def _field(s: str, i: int, raw: bool) -> tuple[list[list[Any]], int]:
    """Return the parts of the replacement field starting at ``i`` and the index after it."""
    start, depth = i, 0
    while i < len(s):
        c = s[i]
        if c in "'\"":
            i = _skip_string(s, i)
            continue
        if c in _OPEN:
            depth += 1
        elif c in _CLOSE:
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (c == ":" or c == "!" and s[i + 1 : i + 2] != "="):
            break
        i += 1
    expr = s[start:i]
    parts: list[list[Any]] = []
    stripped = expr.rstrip()
    debug = stripped.endswith("=") and stripped[-2:-1] not in ("=", "!", "<", ">")
    conversion = ""
    if s[i : i + 1] == "!":
        conversion, i = s[i + 1 : i + 2], i + 2
    spec: list[list[Any]] | None = None
    if s[i : i + 1] == ":":
        spec, i = _scan(s, i + 1, raw, spec=True)
    if debug:
        parts.append(["l", expr])
        expr = stripped[:-1]
        conversion = conversion or ("" if spec is not None else "r")
    tokens = [t.kind + t.text for _, toks in statements("(" + expr + "\n)") for t in toks]
    field: list[Any] = ["x", tokens, conversion, _merge(spec) if spec is not None else None]
    parts.append(field)
    return parts, i + 1


def _skip_string(s: str, i: int) -> int:
    quote = s[i : i + 3] if s[i : i + 3] in ('"""', "'''") else s[i]
    i += len(quote)
    while i < len(s) and not s.startswith(quote, i):
        i += 2 if s[i] == "\\" else 1
    return i + len(quote)


def _unescape(text: str) -> str:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeError:
        return text


def _clean_doc(text: str) -> str:
    """Return a string statement's text as ruff format leaves a docstring."""
    lines = [line.rstrip() for line in text.expandtabs().split("\n")]
    rest = lines[1:]
    indent = min((len(x) - len(x.lstrip()) for x in rest if x), default=0)
    out = [lines[0].strip(), *(x[indent:] for x in rest)]
    while out and not out[-1]:
        out.pop()
    while out and not out[0]:
        out.pop(0)
    return "\n".join(out)


# -- layout: statements, brackets, trailing commas, wrapping parentheses --------------------------
def _segments(depth: int, toks: list[Tok]) -> list[tuple[int, list[Tok]]]:
    """Split a logical line at top-level ``;`` and after a compound header's colon."""
    header = toks[0].kind == "n" and toks[0].text in _HEADERS
    out: list[tuple[int, list[Tok]]] = []
    current: list[Tok] = []
    level, lambdas, body = 0, 0, depth
    for tok in toks:
        if tok.op(*_OPEN):
            level += 1
        elif tok.op(*_CLOSE):
            level -= 1
        elif level == 0 and tok.name("lambda"):
            lambdas += 1
        elif level == 0 and tok.op(";"):
            if current:
                out.append((body, current))
            current = []
            continue
        elif level == 0 and header and tok.op(":"):
            if lambdas:
                lambdas -= 1
            else:
                out.append((depth, [*current, tok]))
                current, header, body = [], False, depth + 1
                continue
        current.append(tok)
    if current:
        out.append((body, current))
    return out


@dataclass
class _Pair:
    open: int
    close: int
    kind: str  # call, group, sub, list, brace, import
    commas: int


def _atom_end(tok: Tok | None, first: bool) -> bool:
    """Return whether a bracket after ``tok`` is a trailer (call or subscript)."""
    if tok is None:
        return False
    if tok.kind == "n":
        return tok.text not in _KEYWORDS and not (first and tok.text in _SOFT_HEADERS)
    return tok.kind in "dsbf" or tok.op(")", "]", "}")


def _brackets(toks: list[Tok]) -> tuple[list[Tok], list[_Pair]]:
    """Drop trailing commas that do not make a tuple; return the tokens and bracket pairs."""
    out: list[Tok] = []
    stack: list[_Pair] = []
    pairs: list[_Pair] = []
    for tok in toks:
        if tok.op(*_OPEN):
            before = out[-1] if out else None
            trailer = _atom_end(before, len(out) == 1)
            kind = {"(": "call" if trailer else "group", "[": "sub" if trailer else "list"}
            if tok.text == "(" and before is not None and before.name("import"):
                kind["("] = "import"
            stack.append(_Pair(len(out), -1, kind.get(tok.text, "brace"), 0))
        elif tok.op(",") and stack:
            stack[-1].commas += 1
        elif tok.op(*_CLOSE) and stack:
            pair = stack.pop()
            if out and out[-1].op(",") and len(out) - 1 > pair.open:
                if pair.kind in ("call", "list", "brace", "import") or pair.commas >= 2:
                    out.pop()
                    pair.commas -= 1
            pair.close = len(out)
            if not stack:
                pairs.append(pair)
        out.append(tok)
    return out, pairs


def _unwrap(toks: list[Tok]) -> list[Tok]:
    """Remove the parentheses that only wrap a whole slot, until none is left."""
    while True:
        toks, pairs = _brackets(toks)
        removable = next((p for p in pairs if _removable(toks, p)), None)
        if removable is None:
            return _drop_final_comma(toks)
        toks = [t for i, t in enumerate(toks) if i not in (removable.open, removable.close)]


_EDGE = Tok("", "")  # the start or end of a statement


def _removable(toks: list[Tok], pair: _Pair) -> bool:
    """Return whether the parentheses of ``pair`` only wrap a whole slot of the statement."""
    if pair.kind != "group":
        return pair.kind == "import"
    left = toks[pair.open - 1] if pair.open else _EDGE
    right = toks[pair.close + 1] if pair.close + 1 < len(toks) else _EDGE
    in_at = _first_in(toks)
    header_colon = right.op(":") and pair.close + 2 == len(toks)
    for_target = right.name("in") and in_at == pair.close + 1
    after_in = left.name("in") and in_at == pair.open - 1
    keyword = left.name(*_SLOT_KEYWORDS) and pair.open == 1
    whole_left = (
        left is _EDGE or left.op(*_ASSIGN) or after_in or keyword and left.name("return", "for")
    )
    whole_right = right is _EDGE or right.op(*_ASSIGN) or header_colon or for_target
    if not (whole_left or left.op(",") or keyword) or not (whole_right or right.op(",")):
        return False
    if toks[pair.open + 1].name("yield") and right is not _EDGE:
        return False  # `x = (yield a), b` is not `x = yield a, b`
    return pair.commas == 0 or whole_left and whole_right


def _first_in(toks: list[Tok]) -> int:
    """Return the index of a ``for`` statement's top-level ``in`` (-1 when there is none)."""
    if not toks or not toks[0].name("for", "async"):
        return -1
    level = 0
    for i, tok in enumerate(toks):
        level += tok.op(*_OPEN) - tok.op(*_CLOSE)
        if level == 0 and tok.name("in"):
            return i
    return -1


def _drop_final_comma(toks: list[Tok]) -> list[Tok]:
    """Drop a statement's trailing top-level comma when its last slot has other commas."""
    end = len(toks) - 1 if toks and toks[-1].op(":") else len(toks)
    if end < 2 or not toks[end - 1].op(","):
        return toks
    level, commas = 0, 0
    for tok in toks[: end - 1]:
        level += tok.op(*_OPEN) - tok.op(*_CLOSE)
        if level == 0 and tok.op(*_ASSIGN):
            commas = 0
        elif level == 0 and tok.op(","):
            commas += 1
    return toks[: end - 1] + toks[end:] if commas else toks
