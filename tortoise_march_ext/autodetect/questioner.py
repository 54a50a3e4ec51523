"""The questioner: what the autodetector asks a person (renames, one-off defaults).

- :class:`Questioner` answers every question the safe way without asking: no renames, no one-off
  defaults (so a NOT NULL field without default fails when migrated onto a table with rows).
- :class:`InteractiveQuestioner` reads answers from stdin, a terminal or a pipe; end of input
  before an answer aborts with the candidates and the flags that decide them.
- :class:`NoInputQuestioner` (``--noinput``) never asks: an undecided question fails the same way,
  except a nullable field made NOT NULL, which goes on as if the rows had values (one warning line,
  as Django does; the migration checks for NULLs before it changes anything).

Explicit hints (``--rename-field``, ``--rename-model``, ``--no-renames``) decide renames first.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..exceptions import MarchError
from ..schema.state import NOT_PROVIDED, FieldState

RENAME_FLAGS = (
    "--rename-field APP.Model.old=new, --rename-model APP.Old=New, or --no-renames "
    "(remove and add, dropping the old column's data)"
)


RENAME_HINT = f"answer on stdin, or decide with {RENAME_FLAGS}"
ADD_VALUE_HINT = (
    "answer on stdin (1, then a Python literal), or give the field a default or null=True"
)
ALTER_VALUE_HINT = (
    "answer on stdin (1, then a Python literal; or 2 when the rows already have values), "
    "or run with --noinput to go on as with 2"
)
NOT_NULL_CHOICES = (
    " 1) Provide a one-off value now\n"
    " 2) Ignore for now: existing rows already have values (or a data migration fills them)\n"
    " 3) Quit and change the model\n"
)


class QuestionAborted(MarchError):
    """A question could not be answered (end of input, or --noinput)."""


@dataclass
class RenameHints:
    """Renames decided on the command line."""

    fields: dict[tuple[str, str, str], str] = field(default_factory=dict)
    models: dict[tuple[str, str], str] = field(default_factory=dict)
    no_renames: bool = False

    @classmethod
    def parse(
        cls, fields: list[str] | None, models: list[str] | None, no_renames: bool = False
    ) -> RenameHints:
        """Parse ``app.Model.old=new`` and ``app.Old=New`` flags."""
        hints = cls(no_renames=no_renames)
        for text in fields or []:
            left, sep, new = text.partition("=")
            parts = left.split(".")
            if not sep or len(parts) != 3 or not all(parts) or not new:
                raise MarchError(
                    f"--rename-field {text!r}: write it as APP.Model.old_name=new_name"
                )
            hints.fields[(parts[0], parts[1], parts[2])] = new
        for text in models or []:
            left, sep, new = text.partition("=")
            app, dot, old = left.partition(".")
            if not sep or not dot or not app or not old or not new:
                raise MarchError(f"--rename-model {text!r}: write it as APP.OldName=NewName")
            hints.models[(app, old)] = new
        return hints

    def decide_field(self, app: str, model: str, old: str, new: str) -> bool | None:
        """Return True/False when the flags decide this field rename, None when they do not."""
        if (app, model, old) in self.fields:
            return self.fields[(app, model, old)] == new
        return False if self.no_renames else None

    def decide_model(self, app: str, old: str, new: str) -> bool | None:
        """Return True/False when the flags decide this model rename, None when they do not."""
        if (app, old) in self.models:
            return self.models[(app, old)] == new
        return False if self.no_renames else None


class Questioner:
    """Answer without asking: nothing is renamed, no one-off default is given."""

    def __init__(self, hints: RenameHints | None = None) -> None:
        self.hints = hints or RenameHints()

    def ask_rename_field(self, app: str, model: str, old: str, new: str, state: FieldState) -> bool:
        """Return whether field ``old`` of ``app.model`` was renamed to ``new``."""
        decided = self.hints.decide_field(app, model, old, new)
        return decided if decided is not None else self.undecided_field(app, model, old, new, state)

    def ask_rename_model(self, app: str, old: str, new: str) -> bool:
        """Return whether model ``app.old`` was renamed to ``new``."""
        decided = self.hints.decide_model(app, old, new)
        return decided if decided is not None else self.undecided_model(app, old, new)

    def ask_rename_index(self, app: str, model: str, old: str, new: str, kind: str) -> bool:
        """Return whether the named index or constraint ``old`` was renamed to ``new``: one whose
        definition is unchanged is taken as renamed (no rows are at stake, and a rename beats a
        rebuild), unless renames are off; an interactive run asks."""
        if self.hints.no_renames:
            return False
        return self.undecided_option(app, model, old, new, kind)

    def undecided_option(self, app: str, model: str, old: str, new: str, kind: str) -> bool:
        """Answer a rename of an index or constraint no flag decides."""
        return True

    def ask_fill(self, app: str, model: str, name: str, state: FieldState, why: str) -> Any:
        """Return the one-off value existing rows get, or NOT_PROVIDED to leave it to the DB."""
        return NOT_PROVIDED

    def ask_not_null_alteration(self, app: str, model: str, name: str, state: FieldState) -> Any:
        """Return the one-off value the NULLs of a field made NOT NULL get, or NOT_PROVIDED when
        the rows already have values (or a data migration fills them)."""
        return NOT_PROVIDED

    def undecided_field(self, app: str, model: str, old: str, new: str, state: FieldState) -> bool:
        """Answer a field rename the flags did not decide."""
        return False

    def undecided_model(self, app: str, old: str, new: str) -> bool:
        """Answer a model rename the flags did not decide."""
        return False

    def confirm(self, prompt: str, candidate: str) -> bool:
        """Answer a yes/no question."""
        return False


class InteractiveQuestioner(Questioner):
    """Ask on ``output`` and read answers from ``input`` (a terminal or a pipe)."""

    def __init__(self, input: TextIO, output: TextIO, hints: RenameHints | None = None) -> None:
        super().__init__(hints)
        self.input = input
        self.output = output

    def _read(self, prompt: str, candidate: str, hint: str = RENAME_HINT) -> str:
        self.output.write(prompt)
        self.output.flush()
        line = self.input.readline()
        if not line:
            raise QuestionAborted(
                f"makemigrations needs an answer for {candidate} but input ended; {hint}"
            )
        return line.strip()

    def _choose(self, count: int, candidate: str, hint: str) -> int:
        """Ask until the answer is one of 1..count."""
        allowed = [str(n) for n in range(1, count + 1)]
        while True:
            choice = self._read("Select an option: ", candidate, hint)
            if choice in allowed:
                return int(choice)
            self.output.write(f"Please select {', '.join(allowed[:-1])} or {allowed[-1]}.\n")

    def _literal(self, candidate: str, hint: str) -> Any:
        """Ask until the answer is a Python literal."""
        while True:
            text = self._read(">>> ", candidate, hint)
            try:
                return ast.literal_eval(text)
            except (ValueError, SyntaxError):
                self.output.write(f"{text} is not a Python literal (like 0, 'x', None); again.\n")

    def confirm(self, prompt: str, candidate: str) -> bool:
        """Ask until the answer is yes or no (empty means no)."""
        while True:
            answer = self._read(prompt, candidate).lower()
            if answer in ("", "n", "no"):
                return False
            if answer in ("y", "yes"):
                return True
            self.output.write("Please answer y or n.\n")

    def undecided_option(self, app: str, model: str, old: str, new: str, kind: str) -> bool:
        """Ask whether the index or constraint was renamed."""
        return self.confirm(
            f"Did you rename {kind} {old} on {app}.{model} to {new}? [y/N] ",
            f"{kind} {old} -> {new} on {app}.{model}",
        )

    def undecided_field(self, app: str, model: str, old: str, new: str, state: FieldState) -> bool:
        """Ask whether the field was renamed."""
        return self.confirm(
            f"Did you rename {app}.{model}.{old} to {new} ({state.kind})? [y/N] ",
            f"the rename {app}.{model}.{old} -> {new}",
        )

    def undecided_model(self, app: str, old: str, new: str) -> bool:
        """Ask whether the model was renamed."""
        return self.confirm(
            f"Did you rename {app}.{old} to {new}? [y/N] ", f"the rename {app}.{old} -> {new}"
        )

    def ask_fill(self, app: str, model: str, name: str, state: FieldState, why: str) -> Any:
        """Ask for a Python literal to fill existing rows with, or quit."""
        self.output.write(
            f"{app}.{model}.{name} {why}; existing rows need a value.\n"
            " 1) Provide a one-off value now\n"
            " 2) Quit and change the model\n"
        )
        candidate = f"a value for {app}.{model}.{name}"
        if self._choose(2, candidate, ADD_VALUE_HINT) == 2:
            raise _quit(app, model, name)
        return self._one_off(candidate, ADD_VALUE_HINT, "the existing rows")

    def ask_not_null_alteration(self, app: str, model: str, name: str, state: FieldState) -> Any:
        """Offer Django's three choices: a one-off value, go on (the rows have values), quit."""
        self.output.write(
            f"{app}.{model}.{name} becomes NOT NULL; rows that hold NULL need a value.\n"
            + NOT_NULL_CHOICES
        )
        candidate = f"a value for {app}.{model}.{name}"
        choice = self._choose(3, candidate, ALTER_VALUE_HINT)
        if choice == 3:
            raise _quit(app, model, name)
        if choice == 2:
            return NOT_PROVIDED
        return self._one_off(candidate, ALTER_VALUE_HINT, "the rows that hold NULL")

    def _one_off(self, candidate: str, hint: str, rows: str) -> Any:
        self.output.write(f"Enter a Python literal (like 0, 'x'); it fills {rows} only.\n")
        return self._literal(candidate, hint)


def _quit(app: str, model: str, name: str) -> QuestionAborted:
    return QuestionAborted(
        f"stopped: give {app}.{model}.{name} a default or null=True, then run makemigrations again"
    )


class NoInputQuestioner(Questioner):
    """Never ask (``--noinput``): an undecided rename or a needed one-off value fails; a field
    made NOT NULL goes on as if its rows had values, with one warning line on ``output``."""

    def __init__(self, hints: RenameHints | None = None, output: TextIO | None = None) -> None:
        super().__init__(hints)
        self.output = output

    def ask_not_null_alteration(self, app: str, model: str, name: str, state: FieldState) -> Any:
        """Go on without a value (Django's choice 2), saying so in one line."""
        output = self.output or sys.stderr
        output.write(
            f"warning: {app}.{model}.{name} becomes NOT NULL without a default; --noinput went "
            "on as if no row held NULL (migrate stops, changing nothing, if one does)\n"
        )
        return NOT_PROVIDED

    def undecided_field(self, app: str, model: str, old: str, new: str, state: FieldState) -> bool:
        """Fail: the flags must decide."""
        raise QuestionAborted(
            f"{app}.{model}.{old} may have been renamed to {new} and --noinput cannot ask; "
            f"decide with --rename-field {app}.{model}.{old}={new}, or --no-renames (remove "
            "and add, dropping the old column's data)"
        )

    def undecided_model(self, app: str, old: str, new: str) -> bool:
        """Fail: the flags must decide."""
        raise QuestionAborted(
            f"model {app}.{old} may have been renamed to {new} and --noinput cannot ask; "
            f"decide with --rename-model {app}.{old}={new}, or --no-renames (create and "
            "delete, dropping the old table's rows)"
        )

    def ask_fill(self, app: str, model: str, name: str, state: FieldState, why: str) -> Any:
        """Fail: a value is needed."""
        raise QuestionAborted(
            f"{app}.{model}.{name} {why}, existing rows need a value and --noinput cannot ask; "
            "give the field a default or null=True, or run makemigrations interactively"
        )
