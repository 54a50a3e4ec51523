"""Identifiers as databases store them: the byte limit, and the names PostgreSQL derives.

PostgreSQL keeps at most ``NAMEDATALEN - 1`` (63) bytes of an identifier. A longer name in a
statement is cut (``truncate_identifier``) at the last whole UTF-8 character within 63 bytes, and
the names it gives inline constraints, serial sequences and primary keys (``t_c_key``,
``t_c_fkey``, ``t_c_seq``, ``t_pkey``) are built by ``makeObjectName``, which shortens the longer
of table and column byte by byte until the whole name fits, then backs each part off to a
character boundary (``pg_mbcliplen``). Deriving them here the same way lets later statements
name the objects exactly as the catalog has them.
"""

from __future__ import annotations

PG_NAME_BYTES = 63


def clip_identifier(name: str, max_bytes: int) -> str:
    """Return the longest prefix of ``name`` that fits ``max_bytes`` bytes of UTF-8."""
    raw = name.encode("utf-8")
    if len(raw) <= max_bytes:
        return name
    return raw[:max_bytes].decode("utf-8", errors="ignore")


def pg_name(table: str, column: str | None, label: str) -> str:
    """Return the name PostgreSQL gives an implicit object of ``table`` (and ``column``)."""
    first = clip_identifier(table, PG_NAME_BYTES).encode("utf-8")
    second = clip_identifier(column, PG_NAME_BYTES).encode("utf-8") if column else b""
    overhead = len(label.encode("utf-8")) + 1 + (1 if column else 0)
    available = PG_NAME_BYTES - overhead
    n1, n2 = len(first), len(second)
    while n1 + n2 > available:
        if n1 > n2:
            n1 -= 1
        else:
            n2 -= 1
    head = first[:n1].decode("utf-8", errors="ignore")
    middle = "_" + second[:n2].decode("utf-8", errors="ignore") if column else ""
    return f"{head}{middle}_{label}"
