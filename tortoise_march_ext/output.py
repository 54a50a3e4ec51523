"""What the command line prints, and how: verbosity, colours, and the live account of a run.

- Verbosity (``-v/--verbosity``): 0 prints nothing but errors; 1 (the default) what each verb
  reports; 2 also each migration as it runs, each operation with the time its SQL took; 3 also
  each statement with its time.
- Colours only where the text goes to a terminal, never with ``--no-color``, a non-empty
  ``NO_COLOR`` (https://no-color.org) or ``TERM=dumb``.
- The options every verb takes (:func:`options`), and parsing that gives a verb's own usage for
  its wrong flags (:func:`parse`).
- :class:`LiveProgress` is the :class:`~tortoise_march_ext.engine.steps.Progress` the CLI hands
  to the executor at ``-v 2`` and more: the executor reports each statement to it and prints
  nothing itself.

The CLI sets the one :data:`console` at the start of each run (:func:`configure`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from argparse import Namespace
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from .commands.migrate import Progress

if TYPE_CHECKING:
    from .engine.steps import Step
    from .operations import Operation

QUIET, NORMAL, OPERATIONS, STATEMENTS = 0, 1, 2, 3
VERBOSITIES = (QUIET, NORMAL, OPERATIONS, STATEMENTS)
GREEN, YELLOW, RED, BOLD = "32", "33", "31", "1"


def wants_color(stream: TextIO, no_color: bool = False) -> bool:
    """Return whether text for ``stream`` gets colours: a terminal, and nobody said no."""
    if no_color or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


@dataclass
class Console:
    """Where the CLI's lines go: stdout for results, stderr for warnings and errors."""

    verbosity: int = NORMAL
    no_color: bool = False

    def paint(self, text: str, style: str, stream: TextIO | None = None) -> str:
        """Return ``text`` in ``style`` (an SGR code) when ``stream`` (stdout) takes colours."""
        if not wants_color(stream or sys.stdout, self.no_color):
            return text
        return f"\033[{style}m{text}\033[0m"

    def out(self, line: str = "") -> None:
        """Print a line of a verb's report (not at verbosity 0)."""
        if self.verbosity >= NORMAL:
            print(line)

    def detail(self, line: str, level: int = OPERATIONS) -> None:
        """Print a line shown only from verbosity ``level`` on."""
        if self.verbosity >= level:
            print(line)

    def warning(self, text: str) -> None:
        """Print ``warning: text`` on stderr (not at verbosity 0)."""
        if self.verbosity >= NORMAL:
            label = self.paint("warning:", YELLOW, sys.stderr)
            print(f"{label} {text}", file=sys.stderr)

    def error(self, text: str) -> None:
        """Print ``error: text`` on stderr, at every verbosity."""
        print(f"{self.paint('error:', f'{BOLD};{RED}', sys.stderr)} {text}", file=sys.stderr)

    def ok(self, word: str) -> str:
        """Return a success word (``Done``) as it is shown on stdout."""
        return self.paint(word, GREEN)

    def notice(self, word: str) -> str:
        """Return a word that needs a second look (``Faked``) as it is shown on stdout."""
        return self.paint(word, YELLOW)


console = Console()


def out(line: str = "") -> None:
    """Print one line of output (silenced at verbosity 0)."""
    console.out(line)


def err(line: str = "") -> None:
    """Print one line to stderr as it is (messages that must not mix with stdout's data)."""
    print(line, file=sys.stderr)


def shown(path: Path) -> str:
    """Return ``path`` relative to the current folder when it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def split_app(app: str | None, name: str | None) -> tuple[str | None, str | None]:
    """Return APP and NAME from ``APP NAME`` or ``APP:NAME`` (how vendored migrations are named)."""
    if app and ":" in app and name is None:
        app, _, name = app.partition(":")
    return app, name


def configure(verbosity: int, no_color: bool) -> Console:
    """Set and return the console of this run."""
    global console
    console = Console(verbosity, no_color)
    return console


OPTION_DEFAULTS = {"verbosity": NORMAL, "no_color": False, "traceback": False}


def options() -> argparse.ArgumentParser:
    """Return the parent parser of the options the program and every verb take (``-v``,
    ``--no-color``, ``--traceback``).

    They are left out of the namespace unless given (see :func:`with_defaults`): a verb's
    defaults would otherwise overwrite the same option given before the verb.
    """
    parent = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    parent.add_argument(
        "-v",
        "--verbosity",
        type=int,
        choices=VERBOSITIES,
        help="0: errors only; 1: normal (default); 2: each operation with its SQL time; "
        "3: each statement too",
    )
    parent.add_argument(
        "--no-color",
        action="store_true",
        help="no colours (also off with the NO_COLOR environment variable, or off a terminal)",
    )
    parent.add_argument("--traceback", action="store_true", help="show tracebacks of errors")
    return parent


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None, prog: str) -> Namespace:
    """Return the parsed arguments, with ``prog`` and the defaults of :func:`options` filled in.

    An argument the verb does not know gets the verb's usage (argparse would print the
    program's, as the verb's parser hands unknown arguments back to it).
    """
    args, extra = parser.parse_known_args(argv)
    if extra:
        verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        verbs.choices[args.verb].error(f"unrecognized arguments: {' '.join(extra)}")
    for name, value in OPTION_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    args.prog = prog
    return args


def program_name() -> str:
    """Return the program name as it was run: ``python -m tortoise_march_ext`` (with the
    interpreter's own name) or the script's name (``tortoise-march``)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name.removesuffix(".__main__") == __package__:
        return f"{os.path.basename(sys.executable) or 'python'} -m {__package__}"
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "tortoise-march"


def duration(seconds: float) -> str:
    """Return ``seconds`` as ``0.4 ms`` or ``1.25 s``."""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


@dataclass
class LiveProgress(Progress):
    """A run shown as it goes: each step, then each operation once its SQL has run (with the
    number of statements and their time), at ``-v 3`` followed by the statements themselves.

    Printing never fails the run: once stdout is gone, it stops printing.
    """

    console: Console = field(default_factory=Console)
    _pending: list[Operation] = field(default_factory=list)
    _current: Operation | None = None
    _timings: list[tuple[Any, float]] = field(default_factory=list)
    _started: float = 0.0
    _broken: bool = False

    def start(self, step: Step) -> None:
        """Print the step's header."""
        super().start(step)
        self._pending = [operation for operation, _ in step.statements]
        self._current, self._timings, self._started = None, [], time.perf_counter()
        self._print(f"{step.describe()}...")

    def statement_done(self, operation: Operation, statement: Any, seconds: float) -> None:
        """Collect the statement; print the previous operation once this one begins."""
        super().statement_done(operation, statement, seconds)
        if operation is not self._current:
            self._flush()
            self._skip_to(operation)
            self._current = operation
        self._timings.append((statement, seconds))

    def finish(self) -> None:
        """Print the last operation, those without SQL, and how the step ended."""
        step = self.running
        self._flush()
        if not self.fake:
            self._skip_to(None)
        super().finish()
        if step is not None:
            took = duration(time.perf_counter() - self._started)
            word = self.console.notice("Faked") if self.fake else self.console.ok("Done")
            self._print(f"  {word} ({took})")

    def _skip_to(self, operation: Operation | None) -> None:
        """Print the operations before ``operation`` (all: None) that ran no SQL."""
        if operation is not None and not any(op is operation for op in self._pending):
            return
        while self._pending:
            first = self._pending.pop(0)
            if first is operation:
                return
            self._print(f"  {self._label(first)}  (no SQL)")

    def _flush(self) -> None:
        if self._current is None:
            return
        count, total = len(self._timings), sum(s for _, s in self._timings)
        plural = "statement" if count == 1 else "statements"
        self._print(f"  {self._label(self._current)}  ({count} {plural}, {duration(total)})")
        for statement, seconds in self._timings:
            lines = str(statement).strip().splitlines() or [""]
            lines[-1] += f"  -- {duration(seconds)}"
            for line in lines:
                self._print(f"    {line}", STATEMENTS)
        self._current, self._timings = None, []

    def _label(self, operation: Operation) -> str:
        """Return what the operation does in the running step (``Undo add field ...``)."""
        text = operation.describe()
        if self.running is not None and self.running.backwards:
            return f"Undo {text[:1].lower()}{text[1:]}"
        return text

    def _print(self, line: str, level: int = OPERATIONS) -> None:
        if self._broken:
            return
        try:
            self.console.detail(line, level)
            sys.stdout.flush()
        except OSError:  # the reader went away (BrokenPipeError): keep migrating, silently
            self._broken = True
