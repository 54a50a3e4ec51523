"""The lint rules as data: id -> (one-line reason, safe alternative), and the patterns they read.

Data only. :data:`RULES` holds PostgreSQL's rules (SQLite uses them too), :data:`MYSQL_RULES`
MySQL/MariaDB's own, and :data:`RULE_SETS` which rules each dialect uses; the configuration
validates ``lint_exclude`` against :data:`ALL_RULES`.
"""

from __future__ import annotations

import re

RULES: dict[str, tuple[str, str]] = {
    "add-column-volatile-default": (
        "adding {subject} with a volatile default rewrites the table under an exclusive lock",
        "add it nullable without a default, backfill in batches, then set default/NOT NULL",
    ),
    "alter-column-type-rewrite": (
        "changing the type of {subject} rewrites the table under an exclusive lock",
        "add a column of the new type, backfill it in batches, switch the code, drop the old",
    ),
    "narrow-varchar": (
        "shortening {subject} scans the table under an exclusive lock and may lose data",
        "keep the length, or enforce it with a CHECK constraint added NOT VALID then VALIDATE",
    ),
    "set-not-null": (
        "SET NOT NULL on {subject} scans the whole table under an exclusive lock",
        "add CHECK (col IS NOT NULL) NOT VALID, VALIDATE it, then SET NOT NULL",
    ),
    "add-fk-without-not-valid": (
        "adding foreign key {subject} validates every row while locking both tables",
        "add the foreign key with not_valid=True, then VALIDATE CONSTRAINT in a later step",
    ),
    "add-check-without-not-valid": (
        "adding check constraint {subject} validates every row under an exclusive lock",
        "add it with not_valid=True, then VALIDATE CONSTRAINT in a later step",
    ),
    "index-without-concurrently": (
        "building or dropping index {subject} without CONCURRENTLY blocks writes to the table",
        "use concurrently=True in a migration with atomic = False",
    ),
    "concurrently-in-transaction": (
        "{subject} uses CONCURRENTLY, which PostgreSQL refuses inside a transaction: the "
        "migration does not declare atomic = False, yet cannot run in one",
        "set atomic = False on this Migration (keep the concurrent index alone in it)",
    ),
    "unique-without-concurrent-index": (
        "making {subject} unique builds its index while blocking writes to the table",
        "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT ... UNIQUE USING INDEX",
    ),
    "add-exclusion-constraint": (
        "adding exclusion constraint {subject} builds its index while blocking writes",
        "PostgreSQL cannot build it concurrently: add it while the table is small or quiet",
    ),
    "drop-or-rename-in-use": (
        "dropping or renaming {subject} breaks the running code that still uses it",
        "deploy code that stops using it first, then drop or rename it in a later release",
    ),
    "run-sql": (
        "raw SQL has an effect the linter cannot check",
        "review the SQL for locks and rewrites, then silence this with march_ignore",
    ),
    "json-not-jsonb": (
        "raw SQL uses the json type, which is re-parsed on each read and cannot be indexed",
        "use jsonb",
    ),
    "int-pk-overflow": (
        "primary key {subject} is 32 bits or smaller and can run out of values",
        "use BigIntField(primary_key=True)",
    ),
    "ignore-without-reason": (
        "march_ignore names {subject} without a reason, so it silences nothing",
        'give the reason: march_ignore = ("{subject}", "why it is safe")',
    ),
}
"""PostgreSQL's rule id -> (one-line reason, safe alternative); ``{subject}`` names what is
touched."""

MYSQL_RULES: dict[str, tuple[str, str]] = {
    "mysql-alter-column-type": (
        "changing the type of {subject} copies the table and blocks writes (ALGORITHM=COPY)",
        "add a column of the new type, backfill it in batches, switch the code, drop the old; "
        "or run the change with gh-ost or pt-online-schema-change",
    ),
    "mysql-add-column-rebuild": (
        "adding column {subject} rebuilds the whole table: {detail}",
        "run it with gh-ost or pt-online-schema-change, or while the table is quiet; on a "
        "server with instant ADD COLUMN, put the rule in lint_exclude",
    ),
    "mysql-primary-key": (
        "{detail} primary key {subject} rebuilds the table, copies the columns that reference "
        "it, and blocks writes unless a new key replaces the old in one ALTER TABLE",
        "run it with gh-ost or pt-online-schema-change, or while the tables are small or quiet",
    ),
    "mysql-add-foreign-key": (
        "adding foreign key {subject}{detail} copies the table and blocks writes while every "
        "row is checked (MySQL has no NOT VALID)",
        "check the rows first, then add it in RunSQL after SET foreign_key_checks = 0 (in "
        "place, rows not checked), or use gh-ost or pt-online-schema-change",
    ),
    "mysql-add-check": (
        "adding check constraint {subject} copies the table and blocks writes while every row "
        "is checked (MySQL has no NOT VALID)",
        "run it with gh-ost or pt-online-schema-change, or while the table is small or quiet",
    ),
    "mysql-fulltext-index": (
        "adding {detail} index {subject} blocks writes while it is built (the first FULLTEXT "
        "index of a table also rebuilds it)",
        "build it with gh-ost or pt-online-schema-change, or while the table is quiet",
    ),
}
"""MySQL/MariaDB's own rule id -> (reason, safe alternative); ``{detail}`` says why, or which
server, where one rule has several causes."""

SHARED = frozenset({"drop-or-rename-in-use", "run-sql", "int-pk-overflow", "ignore-without-reason"})
"""The PostgreSQL rules that hold on MySQL too: they are about running code, raw SQL and key
ranges, not about how the server changes a table."""

ALL_RULES: dict[str, tuple[str, str]] = {**RULES, **MYSQL_RULES}
"""Every rule id -> (one-line reason, safe alternative), whatever the dialect."""

RULE_SETS: dict[str, frozenset[str]] = {
    "postgres": frozenset(RULES),
    "sqlite": frozenset(RULES),
    "mysql": SHARED | frozenset(MYSQL_RULES),
}
"""The rules each dialect uses; a dialect not listed uses PostgreSQL's."""


INSTANT_ADD_LAST: dict[bool, tuple[int, int, int]] = {False: (8, 0, 12), True: (10, 3, 2)}
"""The first MySQL (False) and MariaDB (True) versions that add a last column instantly."""
INSTANT_ADD_ANYWHERE: dict[bool, tuple[int, int, int]] = {False: (8, 0, 29), True: (10, 4, 0)}
"""The first versions that add a column instantly in any position (FIRST, AFTER ...)."""
OWN_INDEX_TYPES = frozenset({"FULLTEXT", "SPATIAL"})
ADD_COLUMN_PLACED = re.compile(
    r"\balter\s+table\b.*?\badd\b(?!\s+(?:constraint|primary|unique|index|key|fulltext|"
    r"spatial|foreign|check)\b).*?\b(first|after)\b",
    re.IGNORECASE | re.DOTALL,
)
"""An ``ALTER TABLE ... ADD [COLUMN] ... FIRST|AFTER col`` in raw SQL."""

SMALL_PK_KINDS = frozenset({"IntField", "SmallIntField"})
PG_TYPES = {
    "IntField": "integer",
    "BigIntField": "bigint",
    "SmallIntField": "smallint",
    "IntEnumField": "smallint",
    "TimeDeltaField": "bigint",
    "CharField": "varchar",
    "CharEnumField": "varchar",
    "TextField": "text",
    "DecimalField": "numeric",
    "UUIDField": "uuid",
    "MySQLUUIDField": "uuid",
}
"""PostgreSQL column types of the kinds that share one; other kinds are their own type."""

VOLATILE_SQL = re.compile(
    r"\b(random|gen_random_uuid|uuid_generate_v\w*|clock_timestamp|timeofday|nextval)\s*\(",
    re.IGNORECASE,
)
"""Volatile functions: PostgreSQL (11+) fills a new column with a non-volatile default such as
now() or CURRENT_TIMESTAMP without rewriting the table, but must call these once per row."""
CONCURRENTLY = re.compile(r"\bconcurrently\b", re.IGNORECASE)
JSON_TYPE = re.compile(r"\bjson\b(?!\s*\()", re.IGNORECASE)
SQL_LITERAL = re.compile(r"'(?:[^']|'')*'|--[^\n]*")
VALIDATED = re.compile(r'\bvalidate\s+constraint\s+"?(\w+)"?', re.IGNORECASE)
