"""The options every verb takes, run as users run them: ``--version``, ``-v/--verbosity 0..3``,
colours on a terminal only (a real pseudo-terminal here), a verb's own usage for its wrong flags,
and the program name as it was run (``python -m tortoise_march_ext`` or ``tortoise-march``)."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cliproject import TIMEOUT, CliProject, assert_error, make_project, run_python, show
from tortoise_march_ext._version import __version__

PROG = f"{Path(sys.executable).name} -m tortoise_march_ext"
SCRIPT = Path(sys.executable).parent / "tortoise-march"
ESCAPE = "\x1b["
TIMED = r"(?:\d+\.\d ms|\d+\.\d\d s)"


@pytest.fixture
def project(tmp_path: Path) -> CliProject:
    """Return the example project with 0001_initial written (not applied)."""
    project = make_project(tmp_path)
    project.ok("makemigrations")
    return project


def in_terminal(project: CliProject, *args: str, **env: str) -> tuple[int, str]:
    """Run the CLI with stdout and stderr on a pseudo-terminal; return its code and output."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "tortoise_march_ext", *args],
            cwd=project.root,
            env=project.env(**env),
            stdin=subprocess.DEVNULL,
            stdout=follower,
            stderr=follower,
        )
    finally:
        os.close(follower)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
    code = process.wait(timeout=TIMEOUT)
    return code, b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


# -- --version -----------------------------------------------------------------------------------
def test_version(project: CliProject) -> None:
    result = project.run("--version")
    assert result.returncode == 0, show(result)
    assert result.stdout == f"tortoise-march-ext {__version__}\n", show(result)
    script = subprocess.run(
        [str(SCRIPT), "--version"], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert script.stdout == f"tortoise-march-ext {__version__}\n", script.stderr


# -- verbosity -----------------------------------------------------------------------------------
def test_verbosity_0_prints_nothing_on_success_but_errors(project: CliProject) -> None:
    project.add_contact_field('nickname = fields.CharField(max_length=40, default="")')
    made = project.run("makemigrations", "-v", "0")
    assert (made.returncode, made.stdout, made.stderr) == (0, "", ""), show(made)
    assert project.migration_names() == ["0001_initial.py", "0002_contact_nickname.py"]
    applied = project.run("-v", "0", "migrate")  # before the verb works too
    assert (applied.returncode, applied.stdout, applied.stderr) == (0, "", ""), show(applied)
    assert project.recorded() == ["0001_initial", "0002_contact_nickname"]
    faked = project.run("migrate", "contacts", "0001", "--fake", "--verbosity", "0")
    assert (faked.returncode, faked.stdout, faked.stderr) == (0, "", ""), show(faked)
    assert_error(project.run("migrate", "contacts", "nosuch", "-v", "0"), 2, "nosuch")


def test_verbosity_1_is_the_default(project: CliProject) -> None:
    result = project.ok("migrate", "-v", "1")
    assert result.stdout == "Apply contacts.0001_initial... Done\n", show(result)


def test_verbosity_2_lists_each_operation_with_its_sql_time(project: CliProject) -> None:
    result = project.ok("migrate", "-v", "2")
    lines = result.stdout.splitlines()
    assert lines[0] == "Apply contacts.0001_initial...", show(result)
    for model, count in (("Company", "1 statement"), ("Tag", "1 statement")):
        assert any(
            re.fullmatch(rf"  Create model {model}  \({count}, {TIMED}\)", line) for line in lines
        ), show(result)
    contact = [line for line in lines if line.startswith("  Create model Contact  (")]
    assert contact and re.fullmatch(
        rf"  Create model Contact  \(\d+ statements, {TIMED}\)", contact[0]
    ), show(result)
    assert re.fullmatch(rf"  Done \({TIMED}\)", lines[-1]), show(result)
    assert "CREATE TABLE" not in result.stdout, "statements are for -v 3" + show(result)
    assert project.recorded() == ["0001_initial"]

    back = project.ok("migrate", "contacts", "zero", "--verbosity", "2")
    lines = back.stdout.splitlines()
    assert lines[0] == "Unapply contacts.0001_initial...", show(back)
    assert [line.split("  (")[0] for line in lines[1:-1]] == [
        "  Undo create model Contact",
        "  Undo create model Tag",
        "  Undo create model Company",
    ], show(back)

    faked = project.ok("migrate", "--fake", "-v", "2")
    assert faked.stdout.splitlines()[0] == "Apply contacts.0001_initial...", show(faked)
    assert re.fullmatch(rf"  Faked \({TIMED}\)", faked.stdout.splitlines()[1]), show(faked)
    assert len(faked.stdout.splitlines()) == 2, show(faked)


def test_verbosity_3_adds_each_statement_with_its_time(project: CliProject) -> None:
    result = project.ok("migrate", "-v", "3")
    out = result.stdout
    company = out.index("  Create model Company  (1 statement, ")
    statement = out.index('    CREATE TABLE "company" (', company)
    assert re.search(rf"\n    \);  -- {TIMED}\n  Create model Tag", out[statement:]), show(result)
    assert re.search(
        rf'    CREATE INDEX "idx_contact_name_\w+" ON "contact" \("name"\);  -- {TIMED}\n', out
    ), show(result)
    assert project.tables() >= {"company", "contact", "tag", "contact_tag"}


def test_the_executor_reports_statements_and_prints_nothing(project: CliProject) -> None:
    """The hook behind -v 2/3, used from Python: statements with their times, no output."""
    script = """
import json, anyio
from tortoise_march_ext.commands import load_config, migrate
from tortoise_march_ext.engine.steps import Progress

class Seen(Progress):
    def __init__(self):
        super().__init__()
        self.seen = []

    def statement_done(self, operation, statement, seconds):
        self.seen.append([self.running.describe(), operation.describe(), str(statement), seconds])

progress = Seen()
anyio.run(lambda: migrate(load_config(), progress=progress))
print(json.dumps(progress.seen))
"""
    result = run_python(project.root, project.env(), script)
    assert result.returncode == 0 and result.stderr == "", show(result)
    seen = json.loads(result.stdout)  # the only line printed: the executor printed nothing
    assert [s[1] for s in seen[:2]] == ["Create model Company", "Create model Tag"], seen
    assert all(s[0] == "Apply contacts.0001_initial" for s in seen), seen
    assert seen[0][2].startswith('CREATE TABLE "company"'), seen
    assert all(isinstance(s[3], float) and s[3] >= 0 for s in seen), seen
    assert project.recorded() == ["0001_initial"]


def test_bad_verbosity_is_a_usage_error(project: CliProject) -> None:
    result = project.run("migrate", "-v", "4")
    assert result.returncode == 2, show(result)
    assert result.stderr.startswith(f"usage: {PROG} migrate "), show(result)
    assert "invalid choice: 4" in result.stderr, show(result)
    assert project.tables() == set()


# -- colours -------------------------------------------------------------------------------------
def test_colours_on_a_terminal_only(project: CliProject) -> None:
    piped = project.run("migrate")
    assert ESCAPE not in piped.stdout + piped.stderr, show(piped)
    piped_error = project.run("migrate", "contacts", "nosuch")
    assert piped_error.stderr.startswith("error: "), show(piped_error)

    project.ok("migrate", "contacts", "zero")
    code, text = in_terminal(project, "migrate")
    assert code == 0, text
    assert "Apply contacts.0001_initial... \x1b[32mDone\x1b[0m" in text, repr(text)
    code, text = in_terminal(project, "migrate", "contacts", "nosuch")
    assert code == 2 and text.startswith("\x1b[1;31merror:\x1b[0m "), repr(text)


@pytest.mark.parametrize(("flag", "env"), [("--no-color", {}), ("-v1", {"NO_COLOR": "1"})])
def test_no_color_on_a_terminal(project: CliProject, flag: str, env: dict[str, str]) -> None:
    code, text = in_terminal(project, "migrate", flag, **env)
    assert code == 0, text
    assert "Apply contacts.0001_initial... Done" in text and ESCAPE not in text, repr(text)
    code, text = in_terminal(project, "migrate", "contacts", "nosuch", flag, **env)
    assert code == 2 and text.startswith("error: ") and ESCAPE not in text, repr(text)


# -- usage and the program name -----------------------------------------------------------------
@pytest.mark.parametrize(
    "verb", ["migrate", "makemigrations", "showmigrations", "init -t settings.TORTOISE_ORM", "lint"]
)
def test_a_wrong_flag_prints_that_verbs_usage(project: CliProject, verb: str) -> None:
    before = project.snapshot()
    result = project.run(*verb.split(), "--no-such-flag")
    verb = verb.split()[0]
    assert result.returncode == 2, show(result)
    assert result.stderr.startswith(f"usage: {PROG} {verb} "), show(result)
    assert result.stderr.rstrip().endswith(
        f"{PROG} {verb}: error: unrecognized arguments: --no-such-flag"
    ), show(result)
    assert "VERB ..." not in result.stderr, "the program's usage instead of the verb's" + show(
        result
    )
    assert project.snapshot() == before


def test_the_program_name_is_the_one_run(project: CliProject) -> None:
    script = subprocess.run(
        [str(SCRIPT), "migrate", "--no-such-flag"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert script.returncode == 2, script.stderr
    assert script.stderr.startswith("usage: tortoise-march migrate "), script.stderr
    assert "tortoise-march migrate: error: unrecognized arguments" in script.stderr
    help_text = project.run("--help")
    assert help_text.stdout.startswith(f"usage: {PROG} "), show(help_text)

    (project.root / "pyproject.toml").unlink()
    init = subprocess.run(
        [str(SCRIPT), "init", "-t", "settings.TORTOISE_ORM"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert init.returncode == 0, init.stderr
    lines = init.stdout.splitlines()
    assert "  tortoise-march makemigrations" in lines and "  tortoise-march migrate" in lines
