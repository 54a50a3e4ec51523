"""The migration linter: operations that lock or rewrite busy tables, or break running code.

Pure analysis, no I/O and no database. This package owns the rule table (id, one-line reason,
safe alternative), the findings, the report, and the walk: migrations in dependency order, the
state replayed with ``state_forwards`` so that each operation is checked against the state before
it.

Which rules apply depends on the dialect of each app's connection (a :class:`Target`):
PostgreSQL's (:mod:`.checks`) on PostgreSQL, SQLite and when no dialect is given; on MySQL and
MariaDB their own (:mod:`.mysql`) and the few of PostgreSQL's that hold there too
(:data:`.rules.SHARED`). An *existing table* is a model
that existed when the migration started: operations on a model created in the same migration never
trigger the locking rules. An operation silences rules with ``march_ignore = ("rule-id", "why")``
or a tuple of such pairs; a pair without a reason silences nothing and is reported itself.

Rules silenced project-wide (``lint_exclude`` in the configuration) are dropped before they
become findings, in ``lint`` and in what makemigrations prints alike.

The rule table lives in :mod:`.rules`, the per-operation checks in :mod:`.checks`; this module
owns the findings, the report, silencing and the walk.

``json-not-jsonb``: the state has no column type override and JSONField is always JSONB on
PostgreSQL, so the rule reads only RunSQL text (a ``json`` type outside string literals).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from .. import operations as ops
from ..engine.graph import MigrationGraph
from ..exceptions import EXIT_FOUND, EXIT_OK, GraphError
from ..schema.state import ProjectState
from .checks import Context, Hit, Target, check_operation, column_type, flag, statements
from .mysql import check_mysql
from .rules import ALL_RULES, MYSQL_RULES, RULE_SETS, RULES, VALIDATED

__all__ = [
    "ALL_RULES",
    "MYSQL_RULES",
    "RULES",
    "Context",
    "Finding",
    "Hit",
    "LintReport",
    "Linter",
    "Target",
    "check_operation",
    "column_type",
    "ignores",
    "lint_graph",
    "lint_operations",
]

Key = tuple[str, str]
Targets = Callable[[str], Target]
"""App label -> the database its migrations run on."""

DIALECT_CHECKS: dict[str, Callable[[ops.Operation, Context], list[Hit]]] = {
    "mysql": check_mysql,
}
"""The checks of each dialect family; a dialect not listed gets PostgreSQL's."""


def checks_for(op: ops.Operation, ctx: Context) -> list[Hit]:
    """Return the rules ``op`` breaks on the dialect of ``ctx.target``."""
    return DIALECT_CHECKS.get(ctx.target.dialect, check_operation)(op, ctx)


def _postgres(app: str) -> Target:
    return Target()


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


def _settle(
    hits: list[Hit],
    op: ops.Operation,
    where: Key,
    index: int,
    report: LintReport,
    exclude: Collection[str] = (),
) -> None:
    """Add one operation's findings to ``report``, moving the silenced ones to ``ignored``;
    rules in ``exclude`` (silenced project-wide) are dropped."""
    reasons: dict[str, str] = {}
    for rule, why in ignores(op):
        if why.strip() and rule != "ignore-without-reason":
            reasons.setdefault(rule, why.strip())
        elif not why.strip():
            hits.append(Hit("ignore-without-reason", rule))
    for hit in (h for h in hits if h.rule not in exclude):
        reason, alternative = (
            text.format(subject=hit.subject, detail=hit.detail) for text in ALL_RULES[hit.rule]
        )
        finding = Finding(hit.rule, *where, index, op.describe(), reason, alternative)
        if hit.rule in reasons:
            report.ignored.append((finding, reasons[hit.rule]))
        else:
            report.findings.append(finding)


# -- the walk ------------------------------------------------------------------------------------
class Linter:
    """Replay migrations in order, linting those asked for against the state before each step."""

    def __init__(
        self,
        state: ProjectState | None = None,
        exclude: Collection[str] = (),
        targets: Targets | None = None,
    ) -> None:
        self.state = state.clone() if state is not None else ProjectState()
        self.exclude = frozenset(exclude)  # rules silenced project-wide (lint_exclude)
        self.targets = targets or _postgres
        self.not_valid: set[str] = set()  # CHECK constraints added NOT VALID, not validated yet
        self.report = LintReport()

    def migration(self, key: Key, operations: Sequence[ops.Operation], atomic: bool) -> None:
        """Lint one migration's operations, then move the state past them."""
        app = key[0]
        existing = {name for a, name in self.state.models if a == app}
        # ``atomic`` as the Migration declares it: a concurrent index makes the executor run
        # the whole migration without a transaction, which the file should say.
        target = self.targets(app)
        ctx = Context(app, self.state, existing, atomic, self.not_valid, target)
        known = RULE_SETS.get(target.dialect, RULE_SETS["postgres"])
        for index, op in enumerate(operations):
            hits = [hit for hit in checks_for(op, ctx) if hit.rule in known]
            _settle(hits, op, key, index, self.report, self.exclude)
            self.forward(app, op, existing)

    def forward(self, app: str, op: ops.Operation, existing: set[str] | None = None) -> None:
        """Apply ``op`` to the state; track tables created or renamed and NOT VALID checks."""
        op.state_forwards(app, self.state)
        if isinstance(op, ops.AddConstraint) and flag(op, "not_valid"):
            self.not_valid.add(op.constraint.name)
        if isinstance(op, ops.RunSQL):
            self.not_valid -= {m for sql in statements(op) for m in VALIDATED.findall(sql)}
        if isinstance(op, ops.ValidateConstraint) and op.name:
            self.not_valid.discard(op.name)
        if existing is not None and isinstance(op, ops.CreateModel):
            existing.discard(op.name)
        if existing is not None and isinstance(op, ops.RenameModel) and op.old_name in existing:
            existing.discard(op.old_name)
            existing.add(op.new_name)


def lint_graph(
    graph: MigrationGraph,
    selected: Collection[Key] | None = None,
    *,
    exclude: Collection[str] = (),
    targets: Targets | None = None,
) -> LintReport:
    """Lint the ``selected`` migrations of ``graph`` (default: all), replaying their ancestors;
    the rules in ``exclude`` report nothing; ``targets`` says which database each app's
    migrations run on (default: PostgreSQL).

    Nodes need ``operations`` and ``atomic`` (as :class:`~.files.loader.LoadedMigration` has).
    """
    wanted = None if selected is None else set(selected)
    missing = sorted(wanted - set(graph.nodes)) if wanted is not None else []
    if missing:
        raise GraphError(f"no migration {missing[0][0]}.{missing[0][1]} in the migration graph")
    linter = Linter(exclude=exclude, targets=targets)
    for key in graph.topological(wanted):
        node = graph.nodes[key]
        if wanted is None or key in wanted:
            linter.migration(key, node.operations, bool(node.atomic))
        else:
            for op in node.operations:
                linter.forward(key[0], op)
    return linter.report


def lint_operations(
    key: Key,
    operations: Sequence[ops.Operation],
    state: ProjectState,
    *,
    atomic: bool = True,
    exclude: Collection[str] = (),
    target: Target | None = None,
) -> LintReport:
    """Lint operations not written yet (``key`` names their migration) on top of ``state``; the
    rules in ``exclude`` report nothing; ``target`` is the database they run on (default:
    PostgreSQL)."""
    linter = Linter(state, exclude, (lambda app: target) if target is not None else None)
    linter.migration(key, operations, atomic)
    return linter.report
