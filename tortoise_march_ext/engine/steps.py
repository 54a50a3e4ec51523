"""Steps (one migration to apply or unapply, with its statements) and how far a run got.

:class:`Progress` is read after an interruption to say, in one sentence, what was kept. It is
also the executor's only window to the outside while a run goes on: the executor calls its
:meth:`Progress.start`, :meth:`Progress.statement_done` and :meth:`Progress.finish` and prints
nothing; a caller that wants to show the run (``migrate -v 2``) passes a subclass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..files.loader import LoadedMigration
from ..operations import Operation

Key = tuple[str, str]


@dataclass
class Step:
    """One migration to apply (``backwards=False``) or unapply, with its statements."""

    migration: LoadedMigration
    backwards: bool
    statements: list[tuple[Operation, list[str]]] = field(default_factory=list)
    # The tables the step's CreateModel operations make (forward steps).
    creates: list[str] = field(default_factory=list)
    # False on a backend without transactional DDL (its editor's ``transactional_ddl``): the
    # step runs statement by statement under a started mark (see engine/marked.py).
    transactional: bool = True
    dialect: str = ""

    @property
    def key(self) -> Key:
        """Return ``(app, name)``."""
        return self.migration.key

    @property
    def dialect_note(self) -> str:
        """Return what ``migrate --plan`` and ``sqlmigrate`` add to a step that cannot be
        rolled back automatically ('' where DDL is transactional)."""
        return "" if self.transactional else NOT_TRANSACTIONAL.format(dialect=self.dialect)

    @property
    def total(self) -> int:
        """Return how many statements the step runs."""
        return sum(len(statements) for _, statements in self.statements)

    @property
    def atomic(self) -> bool:
        """Return whether the step runs in one transaction (no operation opted out)."""
        return self.migration.atomic and all(op.atomic for op, _ in self.statements)

    def describe(self) -> str:
        """Return ``Apply app.name`` or ``Unapply app.name``."""
        return f"{'Unapply' if self.backwards else 'Apply'} {self.migration}"


@dataclass
class Progress:
    """How far a run got: read after an interruption to say what was kept."""

    done: list[Step] = field(default_factory=list)
    running: Step | None = None
    statements_done: int = 0
    # Set by Executor.run: True when the steps are recorded without running their SQL.
    fake: bool = False

    def start(self, step: Step) -> None:
        """Note that ``step`` begins."""
        self.running, self.statements_done = step, 0

    def statement_done(self, operation: Operation, statement: Any, seconds: float) -> None:
        """Note that ``statement`` of ``operation`` (in the running step) ran in ``seconds``.

        Does nothing here: a hook for callers that show each statement as it runs.
        """

    def finish(self) -> None:
        """Note that the running step is committed and recorded."""
        if self.running is not None:
            self.done.append(self.running)
        self.running = None

    def kept(self) -> str:
        """Return, in one sentence, what an interruption now leaves in the database."""
        step = self.running
        if step is None and not self.done:
            return "interrupted before any migration ran: nothing was changed"
        words = "unapplied" if (step or self.done[-1]).backwards else "applied"
        before = f"the migrations before it stay {words}"
        if self.done:
            before += f" ({len(self.done)} by this run, the last {self.done[-1].migration})"
        if step is None:
            return f"interrupted between migrations: {before.replace(' before it', '')}"
        if not step.transactional:
            app, name = step.key
            return (
                f"interrupted during {step.describe()} on a database without transactional "
                f"DDL: {self.statements_done} of its {step.total} statement(s) ran and it is "
                f"marked as stopped half-way; {before}. Complete or undo those statements by "
                f"hand, then run migrate {app} {name} --resolve applied (or unapplied)"
            )
        if step.atomic:
            return (
                f"interrupted during {step.describe()}: nothing of it was kept (its "
                f"transaction was rolled back); {before}"
            )
        total = sum(len(statements) for _, statements in step.statements)
        return (
            f"interrupted during {step.describe()}, which is not atomic: {self.statements_done} "
            f"of its {total} statement(s) were kept and it is not recorded; {before}. "
            "Complete or undo those statements by hand before running migrate again"
        )


NOT_TRANSACTIONAL = "not transactional on {dialect}: a failure half-way needs --resolve"
