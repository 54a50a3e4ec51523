"""Read a MySQL or MariaDB schema from ``information_schema`` for the current ``DATABASE()``.

Every query is a constant text; the database is ``DATABASE()`` and other values go as
parameters. What MariaDB and MySQL 8 report differently is made one (the server is told apart
by ``SELECT VERSION()``):

- types: integer display widths are dropped (``int(11)`` and ``int`` read ``INT``),
  ``tinyint(1)`` reads ``BOOL``, and a MariaDB ``JSON`` column (a ``LONGTEXT`` with the
  automatic ``CHECK (json_valid(col))``) reads ``JSON`` with its automatic check left out;
- defaults: string and date literals read quoted (``'abc'``, MariaDB's form; MySQL 8 reports
  them bare), a ``DEFAULT NULL`` reads ``None``, expressions read lower case with their
  parentheses (``current_timestamp(6)``); ``ON UPDATE ...`` follows the default;
  ``AUTO_INCREMENT`` reads ``AUTO_INCREMENT`` and generated columns
  ``GENERATED ALWAYS AS (expr) STORED|VIRTUAL``;
- names the server makes up are not kept: unnamed checks (MySQL ``t_chk_1``, MariaDB
  ``CONSTRAINT_1``, column-level checks) read ``None``, and the index the server adds for a
  foreign key that has none (named like the constraint or its first column) is left out of
  ``indexes``, as PostgreSQL's constraint indexes are. An index written for the key (a
  Tortoise ``idx_*``) is kept.

Unique keys are unique indexes in MySQL: they appear in ``uniques`` only (as constraints do on
PostgreSQL), and in ``indexes`` too when their method is not BTREE (MariaDB's long unique
``HASH``). Columns carry ``collation`` when it is not the table's, and tables their default
``collation``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .sqltext import _render, _tokenize
from .values import DEFAULT_EXCLUDE, Schema, _empty_table, _sorted

Fetch = Callable[[str, Sequence[Any]], Awaitable[Sequence[Mapping[str, Any]]]]

__all__ = ["Fetch", "MysqlServer", "introspect_mysql", "mysql_server"]


@dataclass(frozen=True)
class MysqlServer:
    """Which server answers: MariaDB or MySQL, and its version."""

    mariadb: bool
    version: tuple[int, ...]

    @property
    def has_checks(self) -> bool:
        """Whether ``information_schema.CHECK_CONSTRAINTS`` exists (MariaDB 10.2, MySQL 8.0.16)."""
        return self.mariadb or self.version >= (8, 0, 16)

    @property
    def has_index_expressions(self) -> bool:
        """Whether ``STATISTICS.EXPRESSION`` exists (MySQL 8.0.13; not MariaDB)."""
        return not self.mariadb and self.version >= (8, 0, 13)


def parse_version(text: str) -> MysqlServer:
    """Return the server ``SELECT VERSION()`` describes (``10.11.6-MariaDB-0+deb12u1``)."""
    numbers = re.match(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?", text)
    version = tuple(int(n) for n in numbers.groups() if n is not None) if numbers else ()
    return MysqlServer(mariadb="mariadb" in text.lower(), version=version)


async def mysql_server(fetch: Fetch) -> MysqlServer:
    """Ask the server which it is."""
    rows = await fetch("SELECT VERSION() AS version", ())
    return parse_version(str(_value(rows[0], "version")))


_TABLES = """
SELECT TABLE_NAME AS name, TABLE_COMMENT AS comment, TABLE_COLLATION AS collation
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE IN (%s, %s)
"""

_COLUMNS = """
SELECT TABLE_NAME AS table_name, COLUMN_NAME AS name, COLUMN_TYPE AS column_type,
       DATA_TYPE AS data_type, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS column_default,
       EXTRA AS extra, COLUMN_COMMENT AS comment, GENERATION_EXPRESSION AS generation,
       COLLATION_NAME AS collation
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, ORDINAL_POSITION
"""

_INDEXES = """
SELECT TABLE_NAME AS table_name, INDEX_NAME AS name, NON_UNIQUE AS non_unique,
       SEQ_IN_INDEX AS seq, COLUMN_NAME AS column_name, SUB_PART AS sub_part,
       INDEX_TYPE AS method, COLLATION AS collation, {expression} AS expression
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = DATABASE()
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
"""

_FOREIGN_KEYS = """
SELECT k.TABLE_NAME AS table_name, k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS column_name,
       k.REFERENCED_TABLE_SCHEMA AS ref_schema, k.REFERENCED_TABLE_NAME AS ref_table,
       k.REFERENCED_COLUMN_NAME AS ref_column, r.DELETE_RULE AS on_delete,
       k.TABLE_SCHEMA = k.REFERENCED_TABLE_SCHEMA AS same_schema
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.REFERENTIAL_CONSTRAINTS r
  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
 AND r.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
"""

_MARIADB_CHECKS = """
SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS name, LEVEL AS level,
       CHECK_CLAUSE AS clause, %s AS enforced
FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = DATABASE()
"""

_MYSQL_CHECKS = """
SELECT tc.TABLE_NAME AS table_name, cc.CONSTRAINT_NAME AS name, %s AS level,
       cc.CHECK_CLAUSE AS clause, tc.ENFORCED AS enforced
FROM information_schema.TABLE_CONSTRAINTS tc
JOIN information_schema.CHECK_CONSTRAINTS cc
  ON cc.CONSTRAINT_SCHEMA = tc.CONSTRAINT_SCHEMA AND cc.CONSTRAINT_NAME = tc.CONSTRAINT_NAME
WHERE tc.TABLE_SCHEMA = DATABASE() AND tc.CONSTRAINT_TYPE = %s
"""

_INTEGER_TYPES = {"tinyint", "smallint", "mediumint", "int", "integer", "bigint"}
_NUMERIC_TYPES = _INTEGER_TYPES | {"decimal", "numeric", "float", "double", "real", "bit", "year"}
_TYPE_RE = re.compile(r"\s*([a-z ]+?)\s*(?:\((.*)\))?\s*((?:unsigned|signed|zerofill|\s)*)\Z", re.S)
_TIMESTAMP_RE = re.compile(r"current_timestamp(?:\((\d*)\))?\Z", re.I)


def _value(row: Mapping[str, Any], key: str) -> Any:
    """Return a column of a row, as text where the driver gave bytes."""
    value = row[key]
    if isinstance(value, (bytes, bytearray)):
        return value.decode("utf-8")
    return value


def column_type(column_type_text: str) -> str:
    """Return a column's type in one spelling for MariaDB and MySQL 8 (``INT UNSIGNED``)."""
    text = column_type_text.strip()
    match = _TYPE_RE.match(text.lower())
    if match is None:
        return text.upper()
    base, args, rest = match.group(1), match.group(2), " ".join(match.group(3).split())
    if base in _INTEGER_TYPES:
        if base == "tinyint" and args == "1" and not rest:
            return "BOOL"
        if "zerofill" not in rest:
            args = None  # a display width: MySQL 8.0.19 no longer shows it, nothing depends on it
        base = "int" if base == "integer" else base
    if base in ("enum", "set"):
        # The values keep their case: take them from the original text.
        args = text[text.index("(") + 1 : text.rindex(")")]
    shown = base.upper() + (f"({args})" if args is not None else "")
    return shown + (f" {rest.upper()}" if rest else "")


def _expression_default(text: str) -> str:
    """Return a default expression in one spelling (``current_timestamp(6)``)."""
    stripped = text.strip()
    while stripped.startswith("(") and stripped.endswith(")") and _wraps(stripped):
        stripped = stripped[1:-1].strip()
    stamp = _TIMESTAMP_RE.match(stripped)
    if stamp:
        return f"current_timestamp({stamp.group(1) or ''})"
    return _render(_tokenize(stripped))


def _wraps(text: str) -> bool:
    """Whether the parenthesis opening ``text`` is the one closing it."""
    depth = 0
    for position, char in enumerate(text):
        depth += char == "("
        depth -= char == ")"
        if depth == 0:
            return position == len(text) - 1
    return False


def column_default(row: Mapping[str, Any], mariadb: bool) -> str | None:
    """Return what fills a column when an INSERT leaves it out, as one text."""
    extra = str(_value(row, "extra") or "")
    lowered = extra.lower()
    if "auto_increment" in lowered:
        return "AUTO_INCREMENT"
    if "generated" in lowered and "default_generated" not in lowered:
        kind = "STORED" if "stored" in lowered else "VIRTUAL"
        expression = _expression_default(str(_value(row, "generation") or ""))
        return f"GENERATED ALWAYS AS ({expression}) {kind}"
    raw = _value(row, "column_default")
    data_type = str(_value(row, "data_type")).lower()
    default: str | None
    if raw is None:
        default = None
    elif mariadb:
        raw = str(raw)
        if raw == "NULL":
            default = None
        elif raw.startswith("'") or data_type in _NUMERIC_TYPES or raw.startswith("b'"):
            default = raw
        else:
            default = _expression_default(raw)
    else:
        raw = str(raw)
        if "default_generated" in lowered:
            default = _expression_default(raw)
        elif data_type in _NUMERIC_TYPES:
            default = raw
        else:
            default = "'" + raw.replace("'", "''") + "'"
    on_update = re.search(r"on update (.+)\Z", extra, re.I)
    if on_update:
        update = f"ON UPDATE {_expression_default(on_update.group(1))}"
        default = update if default is None else f"{default} {update}"
    return default


def _check_name(table: str, name: str, level: str | None) -> str | None:
    """Return a check's name, or None when the server made it up."""
    if level == "Column" or re.fullmatch(r"CONSTRAINT_\d+", name):
        return None
    if re.fullmatch(re.escape(table) + r"_chk_\d+", name):
        return None
    return name


def check_expression(clause: str) -> str:
    """Return a check's expression without outer parentheses and quotes of plain names."""
    text = clause.strip()
    while text.startswith("(") and text.endswith(")") and _wraps(text):
        text = text[1:-1].strip()
    return _render(_tokenize(text))


async def introspect_mysql(fetch: Fetch, *, exclude: Iterable[str] = DEFAULT_EXCLUDE) -> Schema:
    """Return the normalised schema of the tables in the connection's current database.

    ``fetch(sql, params)`` returns the rows of a query (``%s`` placeholders), each readable by
    column name (a Tortoise MySQL client's ``execute_query_dict``, an asyncmy ``DictCursor``).
    Tables named in ``exclude`` (by default the migration recorder table) are left out.
    """
    server = await mysql_server(fetch)
    excluded = set(exclude)
    schema: Schema = {}
    table_collation: dict[str, str | None] = {}
    for row in await fetch(_TABLES, ("BASE TABLE", "SYSTEM VERSIONED")):
        name = str(_value(row, "name"))
        if name in excluded:
            continue
        schema[name] = _empty_table(_value(row, "comment") or None)
        collation = _value(row, "collation")
        schema[name]["collation"] = collation
        table_collation[name] = collation

    for row in await fetch(_COLUMNS, ()):
        table = str(_value(row, "table_name"))
        if table not in schema:
            continue
        collation = _value(row, "collation")
        schema[table]["columns"][str(_value(row, "name"))] = {
            "type": column_type(str(_value(row, "column_type"))),
            "nullable": str(_value(row, "nullable")).upper() == "YES",
            "default": column_default(row, server.mariadb),
            "pk": False,
            "comment": _value(row, "comment") or None,
            "collation": None if collation == table_collation[table] else collation,
        }

    await _read_checks(fetch, server, schema)
    await _read_foreign_keys(fetch, schema)
    await _read_indexes(fetch, server, schema)

    for info in schema.values():
        for key in ("foreign_keys", "uniques", "indexes", "checks"):
            info[key] = _sorted(info[key])
    return schema


async def _read_checks(fetch: Fetch, server: MysqlServer, schema: Schema) -> None:
    if not server.has_checks:
        return
    if server.mariadb:
        rows = await fetch(_MARIADB_CHECKS, ("YES",))
    else:
        rows = await fetch(_MYSQL_CHECKS, ("Table", "CHECK"))
    for row in rows:
        table = str(_value(row, "table_name"))
        if table not in schema:
            continue
        info = schema[table]
        name, level = str(_value(row, "name")), _value(row, "level")
        clause = str(_value(row, "clause"))
        column = info["columns"].get(name)
        if (
            level == "Column"
            and column is not None
            and column["type"] == "LONGTEXT"
            and re.fullmatch(r"json_valid\(`" + re.escape(name) + r"`\)", clause.strip())
        ):
            # MariaDB's JSON: a LONGTEXT (utf8mb4_bin) with this check added by the server.
            column["type"] = "JSON"
            column["collation"] = None
            continue
        expression = check_expression(clause)
        if str(_value(row, "enforced") or "YES").upper() == "NO":
            expression += " NOT ENFORCED"
        info["checks"].append((_check_name(table, name, level), expression))


async def _read_foreign_keys(fetch: Fetch, schema: Schema) -> None:
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for row in await fetch(_FOREIGN_KEYS, ()):
        table = str(_value(row, "table_name"))
        if table not in schema:
            continue
        key = (table, str(_value(row, "name")))
        ref_table = str(_value(row, "ref_table"))
        if not _value(row, "same_schema"):
            ref_table = f"{_value(row, 'ref_schema')}.{ref_table}"
        entry = grouped.setdefault(
            key,
            {"columns": [], "ref_table": ref_table, "ref_columns": [], "on_delete": None},
        )
        entry["columns"].append(str(_value(row, "column_name")))
        entry["ref_columns"].append(str(_value(row, "ref_column")))
        entry["on_delete"] = str(_value(row, "on_delete")).upper()
    for (table, name), entry in grouped.items():
        schema[table]["foreign_keys"].append(
            (
                tuple(entry["columns"]),
                entry["ref_table"],
                tuple(entry["ref_columns"]),
                entry["on_delete"],
            )
        )
        schema[table].setdefault("_fk_names", []).append((name, tuple(entry["columns"])))


def _server_made_fk_index(
    name: str, entries: tuple[str, ...], unique: bool, method: str, fks: list[Any]
) -> bool:
    """Whether an index is the one the server adds for a foreign key lacking one: named like
    the constraint (or, for an unnamed constraint, like its first column, maybe ``_2``...)."""
    if unique or method != "btree":
        return False
    for fk_name, columns in fks:
        if entries != columns:
            continue
        if name == fk_name or re.fullmatch(re.escape(columns[0]) + r"(_\d+)?", name):
            return True
    return False


async def _read_indexes(fetch: Fetch, server: MysqlServer, schema: Schema) -> None:
    expression = "EXPRESSION" if server.has_index_expressions else "NULL"
    indexes: dict[tuple[str, str], dict[str, Any]] = {}
    for row in await fetch(_INDEXES.format(expression=expression), ()):
        table = str(_value(row, "table_name"))
        if table not in schema:
            continue
        key = (table, str(_value(row, "name")))
        entry = indexes.setdefault(
            key,
            {
                "unique": not int(_value(row, "non_unique")),
                "method": str(_value(row, "method")).lower(),
                "entries": [],
            },
        )
        column = _value(row, "column_name")
        if column is None:
            text = f"({check_expression(str(_value(row, 'expression') or ''))})"
        else:
            text = str(column)
        if _value(row, "sub_part") is not None:
            text += f"({int(_value(row, 'sub_part'))})"
        if _value(row, "collation") == "D":
            text += " DESC"
        entry["entries"].append(text)
    for (table, name), entry in indexes.items():
        info = schema[table]
        entries = tuple(entry["entries"])
        unique, method = entry["unique"], entry["method"]
        if name == "PRIMARY":
            info["primary_key"] = entries
            for column in entries:
                if column in info["columns"]:
                    info["columns"][column]["pk"] = True
            continue
        if unique:
            info["uniques"].append((name, entries))
            if method != "btree":
                info["indexes"].append((name, entries, True, method, None))
            continue
        if _server_made_fk_index(name, entries, unique, method, info.get("_fk_names", [])):
            continue
        info["indexes"].append((name, entries, False, method, None))
    for info in schema.values():
        info.pop("_fk_names", None)
