"""The lint rules as data: id -> (one-line reason, safe alternative), and the patterns they read.

Data only; the configuration validates ``lint_exclude`` against :data:`RULES`.
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
"""Rule id -> (one-line reason, safe alternative); ``{subject}`` names what is touched."""

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
