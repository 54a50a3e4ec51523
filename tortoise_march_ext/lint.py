"""The migration linter: operations that lock or rewrite busy tables, or break running code.

Pure analysis, no I/O and no database. This module owns the rule table (id, one-line reason, safe
alternative), the findings, the report, and the walk: migrations in dependency order, the state
replayed with ``state_forwards`` so that each operation is checked against the state before it.

Rules are written for PostgreSQL and apply whatever the backend. An *existing table* is a model
that existed when the migration started: operations on a model created in the same migration never
trigger the locking rules. An operation silences rules with ``march_ignore = ("rule-id", "why")``
or a tuple of such pairs; a pair without a reason silences nothing and is reported itself.

``json-not-jsonb``: the state has no column type override and JSONField is always JSONB on
PostgreSQL, so the rule reads only RunSQL text (a ``json`` type outside string literals).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

from . import operations as ops
from .engine.graph import MigrationGraph
from .exceptions import EXIT_FOUND, EXIT_OK, GraphError, StateError
from .schema.state import FieldState, ModelState, ProjectState, SqlDefault

Key = tuple[str, str]


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


# -- findings and the report ---------------------------------------------------------------------
@dataclass(frozen=True)
class Finding:
    """One rule broken by one operation of one migration."""

    rule: str
    app: str
    migration: str
    index: int
    operation: str
    reason: str
    alternative: str

    def to_dict(self) -> dict[str, Any]:
        """Return the finding as a JSON-ready dict."""
        return asdict(self)

    def as_text(self) -> str:
        """Return ``app.migration[#index] rule-id: reason; instead: alternative``."""
        where = f"{self.app}.{self.migration}[#{self.index}]"
        return f"{where} {self.rule}: {self.reason}; instead: {self.alternative}"


@dataclass
class LintReport:
    """The findings left, and those silenced with their reason."""

    findings: list[Finding] = field(default_factory=list)
    ignored: list[tuple[Finding, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """Return 1 when findings remain, else 0."""
        return EXIT_FOUND if self.findings else EXIT_OK

    def summary(self) -> str:
        """Return ``N finding(s), M ignored``."""
        return f"{len(self.findings)} finding(s), {len(self.ignored)} ignored"

    def as_text(self) -> str:
        """Return one line per finding, then the summary line."""
        return "\n".join([*(f.as_text() for f in self.findings), self.summary()])

    def as_json(self) -> str:
        """Return ``{"findings": [...], "ignored": [...]}``; ignored ones add ``ignore_reason``."""
        ignored = [{**f.to_dict(), "ignore_reason": why} for f, why in self.ignored]
        data = {"findings": [f.to_dict() for f in self.findings], "ignored": ignored}
        return json.dumps(data, indent=2)


# -- what a check sees ---------------------------------------------------------------------------
class Hit(NamedTuple):
    """A rule an operation breaks, and what it touches."""

    rule: str
    subject: str


@dataclass
class Context:
    """The state before an operation, and what existed when its migration started."""

    app: str
    state: ProjectState
    existing: set[str]
    atomic: bool
    not_valid: set[str]

    def model(self, name: str) -> ModelState | None:
        """Return the model ``name`` of the app, or None."""
        return self.state.models.get((self.app, name))

    def is_existing(self, name: str) -> bool:
        """Return whether the model's table existed before this migration."""
        return name in self.existing and self.model(name) is not None

    def field(self, model: str, name: str) -> FieldState | None:
        """Return the field as it is before the operation, or None."""
        state = self.model(model)
        return state.field_map.get(name) if state else None


def _flag(op: ops.Operation, name: str) -> bool:
    return bool(getattr(op, name, False))


# -- field rules ---------------------------------------------------------------------------------
def _small_pk(field: FieldState, subject: str) -> Iterator[Hit]:
    if field.primary_key and field.kind in SMALL_PK_KINDS:
        yield Hit("int-pk-overflow", subject)


def _volatile(field: FieldState) -> bool:
    default = field.db_default
    return isinstance(default, SqlDefault) and bool(
        VOLATILE_SQL.search(default.for_dialect("postgres"))
    )


def column_type(field: FieldState, state: ProjectState, depth: int = 0) -> tuple[Any, ...]:
    """Return the PostgreSQL type of ``field`` as a comparable tuple (a reference follows its
    target's primary key)."""
    if field.is_fk:
        try:
            target = state.resolve(field.to or "")
            pk = target.get_field(field.to_field or target.pk_name)
        except StateError:
            return ("reference", field.to, field.to_field)
        return column_type(pk, state, depth + 1) if depth < 8 else ("reference", field.to)
    base = PG_TYPES.get(field.kind, field.kind)
    if base == "varchar":
        return (base, field.max_length)
    if base == "numeric":
        return (base, field.max_digits, field.decimal_places)
    return (base,)


def _length(sql_type: tuple[Any, ...]) -> float:
    return float("inf") if sql_type[1] is None else float(sql_type[1])


def _type_change(old: FieldState, new: FieldState, ctx: Context, subject: str) -> Iterator[Hit]:
    before, after = column_type(old, ctx.state), column_type(new, ctx.state)
    if before == after or (before[0] == "varchar" and after == ("text",)):
        return
    if before[0] == after[0] == "varchar":
        if _length(after) < _length(before):
            yield Hit("narrow-varchar", subject)
        return
    yield Hit("alter-column-type-rewrite", subject)


def _proven_not_null(model: ModelState, column: str, not_valid: set[str]) -> bool:
    """Return whether a valid CHECK (column IS NOT NULL) already holds."""
    proof = re.compile(rf'(?<!\w)"?{re.escape(column)}"?\s+is\s+not\s+null', re.IGNORECASE)
    return any(
        c.kind == "check"
        and proof.search(c.check or "")
        and c.name not in not_valid
        and not getattr(c, "not_valid", False)
        for c in model.constraints
    )


def _new_reference(old: FieldState | None, new: FieldState) -> bool:
    if not (new.is_fk and new.db_constraint):
        return False
    if old is None or not (old.is_fk and old.db_constraint):
        return True
    return (old.to, old.to_field) != (new.to, new.to_field)


def _add_field(op: ops.AddField, ctx: Context) -> Iterator[Hit]:
    field, subject = op.field, f"{op.model}.{op.name}"
    yield from _small_pk(field, subject)
    if field.is_m2m or not ctx.is_existing(op.model):
        return
    if _volatile(field):
        yield Hit("add-column-volatile-default", subject)
    if _new_reference(None, field) and not _flag(op, "not_valid"):
        yield Hit("add-fk-without-not-valid", subject)
    if field.unique and not field.primary_key:
        yield Hit("unique-without-concurrent-index", subject)
    elif field.db_index:
        yield Hit("index-without-concurrently", subject)


def _alter_field(op: ops.AlterField, ctx: Context) -> Iterator[Hit]:
    old, new, subject = ctx.field(op.model, op.name), op.field, f"{op.model}.{op.name}"
    if old is None or not (old.primary_key and old.kind == new.kind):
        yield from _small_pk(new, subject)
    model = ctx.model(op.model)
    if old is None or model is None or old.is_m2m or new.is_m2m or not ctx.is_existing(op.model):
        return
    yield from _type_change(old, new, ctx, subject)
    column = old.column(op.name)
    if old.null and not new.null and not _proven_not_null(model, column, ctx.not_valid):
        yield Hit("set-not-null", subject)
    if _new_reference(old, new) and not _flag(op, "not_valid"):
        yield Hit("add-fk-without-not-valid", subject)
    if new.unique and not old.unique:
        yield Hit("unique-without-concurrent-index", subject)
    elif new.db_index and not old.db_index:
        yield Hit("index-without-concurrently", subject)
    if new.column(op.name) != column:
        yield Hit("drop-or-rename-in-use", f"column {model.table}.{column}")


def _remove_field(op: ops.RemoveField, ctx: Context) -> Iterator[Hit]:
    if ctx.is_existing(op.model):
        yield Hit("drop-or-rename-in-use", f"field {op.model}.{op.name}")


def _rename_field(op: ops.RenameField, ctx: Context) -> Iterator[Hit]:
    model, old = ctx.model(op.model), ctx.field(op.model, op.old_name)
    if model is None or old is None or not ctx.is_existing(op.model):
        return
    if old.column(op.old_name) != old.column(op.new_name):
        yield Hit("drop-or-rename-in-use", f"column {model.table}.{old.column(op.old_name)}")


# -- model and table-option rules ----------------------------------------------------------------
def _create_model(op: ops.CreateModel, ctx: Context) -> Iterator[Hit]:
    for name, state in op.fields:
        yield from _small_pk(state, f"{op.name}.{name}")


def _drop_table(op: ops.DeleteModel | ops.AlterModelTable, ctx: Context) -> Iterator[Hit]:
    model, new_table = ctx.model(op.name), getattr(op, "table", None)
    if model is not None and ctx.is_existing(op.name) and model.table != new_table:
        yield Hit("drop-or-rename-in-use", f"table {model.table}")


def _index(op: ops.AddIndex | ops.RemoveIndex, ctx: Context) -> Iterator[Hit]:
    if isinstance(op, ops.AddIndex):
        label = op.index.name or f"({', '.join(op.index.fields or op.index.expressions)})"
    else:
        label = op.name
    concurrent = _flag(op, "concurrently")
    if concurrent and ctx.atomic:
        yield Hit("concurrently-in-transaction", f"index {op.model}.{label}")
    if not concurrent and ctx.is_existing(op.model):
        yield Hit("index-without-concurrently", f"{op.model}.{label}")


def _add_constraint(op: ops.AddConstraint, ctx: Context) -> Iterator[Hit]:
    kind, subject = op.constraint.kind, f"{op.model}.{op.constraint.name}"
    if _flag(op, "concurrently") and ctx.atomic:
        yield Hit("concurrently-in-transaction", f"constraint {subject}")
    if not ctx.is_existing(op.model):
        return
    if kind == "check" and not _flag(op, "not_valid"):
        yield Hit("add-check-without-not-valid", subject)
    if kind == "unique" and not _flag(op, "concurrently"):
        yield Hit("unique-without-concurrent-index", subject)
    if kind == "exclusion":
        yield Hit("add-exclusion-constraint", subject)


def _unique_together(op: ops.AlterUniqueTogether, ctx: Context) -> Iterator[Hit]:
    model = ctx.model(op.model)
    if model is None or not ctx.is_existing(op.model):
        return
    added = [g for g in op.unique_together if tuple(g) not in set(model.unique_together)]
    if added:
        groups = "; ".join(", ".join(g) for g in added)
        yield Hit("unique-without-concurrent-index", f"{op.model} ({groups})")


def _statements(op: ops.RunSQL) -> list[str]:
    return [op.sql] if isinstance(op.sql, str) else list(op.sql)


def _run_sql(op: ops.RunSQL, ctx: Context) -> Iterator[Hit]:
    yield Hit("run-sql", "")
    code = [SQL_LITERAL.sub("''", sql) for sql in _statements(op)]
    if any(JSON_TYPE.search(sql) for sql in code):
        yield Hit("json-not-jsonb", "")
    if ctx.atomic and any(CONCURRENTLY.search(sql) for sql in code):
        yield Hit("concurrently-in-transaction", "RunSQL")


CHECKS: dict[type[ops.Operation], Callable[[Any, Context], Iterator[Hit]]] = {
    ops.AddField: _add_field,
    ops.AlterField: _alter_field,
    ops.RemoveField: _remove_field,
    ops.RenameField: _rename_field,
    ops.CreateModel: _create_model,
    ops.DeleteModel: _drop_table,
    ops.AlterModelTable: _drop_table,
    ops.AddIndex: _index,
    ops.RemoveIndex: _index,
    ops.AddConstraint: _add_constraint,
    ops.AlterUniqueTogether: _unique_together,
    ops.RunSQL: _run_sql,
}


def check_operation(op: ops.Operation, ctx: Context) -> list[Hit]:
    """Return the rules ``op`` breaks, given the state before it (``ctx``)."""
    check = next((CHECKS[k] for k in type(op).__mro__ if k in CHECKS), None)
    return list(check(op, ctx)) if check else []


# -- silencing -----------------------------------------------------------------------------------
def ignores(op: ops.Operation) -> list[tuple[str, str]]:
    """Return the ``(rule, reason)`` pairs of ``op.march_ignore`` (one pair or a tuple of them);
    a bare rule id, or anything else that is not a pair, has an empty reason."""
    raw = getattr(op, "march_ignore", ())
    if not isinstance(raw, (tuple, list)):
        return [(str(raw), "")] if raw else []
    items = [raw] if len(raw) == 2 and all(isinstance(x, str) for x in raw) else list(raw)
    return [
        (str(i[0]), str(i[1])) if isinstance(i, (tuple, list)) and len(i) == 2 else (str(i), "")
        for i in items
    ]


def _settle(hits: list[Hit], op: ops.Operation, where: Key, index: int, report: LintReport) -> None:
    """Add one operation's findings to ``report``, moving the silenced ones to ``ignored``."""
    reasons: dict[str, str] = {}
    for rule, why in ignores(op):
        if why.strip() and rule != "ignore-without-reason":
            reasons.setdefault(rule, why.strip())
        elif not why.strip():
            hits.append(Hit("ignore-without-reason", rule))
    for hit in hits:
        reason, alternative = (text.format(subject=hit.subject) for text in RULES[hit.rule])
        finding = Finding(hit.rule, *where, index, op.describe(), reason, alternative)
        if hit.rule in reasons:
            report.ignored.append((finding, reasons[hit.rule]))
        else:
            report.findings.append(finding)


# -- the walk ------------------------------------------------------------------------------------
class Linter:
    """Replay migrations in order, linting those asked for against the state before each step."""

    def __init__(self, state: ProjectState | None = None) -> None:
        self.state = state.clone() if state is not None else ProjectState()
        self.not_valid: set[str] = set()  # CHECK constraints added NOT VALID, not validated yet
        self.report = LintReport()

    def migration(self, key: Key, operations: Sequence[ops.Operation], atomic: bool) -> None:
        """Lint one migration's operations, then move the state past them."""
        app = key[0]
        existing = {name for a, name in self.state.models if a == app}
        # ``atomic`` as the Migration declares it: a concurrent index makes the executor run
        # the whole migration without a transaction, which the file should say.
        ctx = Context(app, self.state, existing, atomic, self.not_valid)
        for index, op in enumerate(operations):
            _settle(check_operation(op, ctx), op, key, index, self.report)
            self.forward(app, op, existing)

    def forward(self, app: str, op: ops.Operation, existing: set[str] | None = None) -> None:
        """Apply ``op`` to the state; track tables created or renamed and NOT VALID checks."""
        op.state_forwards(app, self.state)
        if isinstance(op, ops.AddConstraint) and _flag(op, "not_valid"):
            self.not_valid.add(op.constraint.name)
        if isinstance(op, ops.RunSQL):
            self.not_valid -= {m for sql in _statements(op) for m in VALIDATED.findall(sql)}
        if isinstance(op, ops.ValidateConstraint) and op.name:
            self.not_valid.discard(op.name)
        if existing is not None and isinstance(op, ops.CreateModel):
            existing.discard(op.name)
        if existing is not None and isinstance(op, ops.RenameModel) and op.old_name in existing:
            existing.discard(op.old_name)
            existing.add(op.new_name)


def lint_graph(graph: MigrationGraph, selected: Collection[Key] | None = None) -> LintReport:
    """Lint the ``selected`` migrations of ``graph`` (default: all), replaying their ancestors.

    Nodes need ``operations`` and ``atomic`` (as :class:`~.files.loader.LoadedMigration` has).
    """
    wanted = None if selected is None else set(selected)
    missing = sorted(wanted - set(graph.nodes)) if wanted is not None else []
    if missing:
        raise GraphError(f"no migration {missing[0][0]}.{missing[0][1]} in the migration graph")
    linter = Linter()
    for key in graph.topological(wanted):
        node = graph.nodes[key]
        if wanted is None or key in wanted:
            linter.migration(key, node.operations, bool(node.atomic))
        else:
            for op in node.operations:
                linter.forward(key[0], op)
    return linter.report


def lint_operations(
    key: Key, operations: Sequence[ops.Operation], state: ProjectState, *, atomic: bool = True
) -> LintReport:
    """Lint operations not written yet (``key`` names their migration) on top of ``state``."""
    linter = Linter(state)
    linter.migration(key, operations, atomic)
    return linter.report
