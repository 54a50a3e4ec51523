"""A tiny project written from strings, and CLI processes released together behind a barrier.

Used by the tests of the migration lock, the recorder checks and interruptions. The project has one
app, ``notes``, with a model ``Note`` (table ``note``); its migrations are written by each test.
Every process runs the real CLI (``tortoise_march_ext.cli.main``, what ``python -m
tortoise_march_ext`` runs) with the interpreter of this test run.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

RECORDER = "tortoise_march_migrations"
TIMEOUT = 120

SETTINGS = """\
import os

TORTOISE_ORM = {
    "connections": {"default": os.environ["DATABASE_URL"]},
    "apps": {"notes": {"models": ["notes_models"], "default_connection": "default"}},
}
"""
MODELS = """\
from tortoise import fields
from tortoise.models import Model

import tortoise_march_ext as march


class Note(Model):
    id = fields.IntField(primary_key=True)
    text = fields.CharField(max_length=50)

    class Meta(march.Meta):
        table = "note"
"""
PYPROJECT = """\
[tool.tortoise_march_ext]
tortoise_orm = "settings.TORTOISE_ORM"
location = "migrations"
track = "meta"
lock_timeout = 100
"""
INITIAL = '''\
"""Create model Note."""

from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


class Migration(migrations.Migration):
    initial = True

    dependencies = ()

    operations = (
        migrations.CreateModel(
            name="Note",
            table="note",
            fields=[
                ("id", fields.IntField(primary_key=True)),
                ("text", fields.CharField(max_length=50)),
            ],
        ),
    )
'''
SEED = '''\
"""Insert one note."""

from tortoise_march_ext import migrations


async def seed(apps):
    await apps.get_model("notes.Note").create(text="seed")


class Migration(migrations.Migration):
    dependencies = (("notes", "0001_initial"),)

    operations = (migrations.RunPython(seed),)
'''

# One CLI process that runs one command per round: import everything once, say "ready"; then for
# each round wait for its "go" file (which names the database), so that every process starts the
# command at the same moment, and run it as `python -m tortoise_march_ext ARGS` would.
WORKER = textwrap.dedent(
    """
    import contextlib, io, json, os, sys, time
    from pathlib import Path

    from tortoise_march_ext.cli import main

    barrier, args, pid = Path(sys.argv[1]), sys.argv[2:], os.getpid()
    (barrier / f"ready-{pid}").touch()
    number = 0
    while True:
        go, deadline = barrier / f"go-{number}", time.monotonic() + 120
        while not go.exists() and not (barrier / "stop").exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"no go signal for round {number} within 120s")
            time.sleep(0.002)
        if not go.exists():
            break
        os.environ["DATABASE_URL"] = go.read_text()
        sys.modules.pop("settings", None)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(args)
            except SystemExit as exc:
                code = exc.code
        done = barrier / f"done-{number}-{pid}"
        part = barrier / f".{done.name}"
        part.write_text(json.dumps([code, out.getvalue(), err.getvalue()]))
        part.rename(done)
        number += 1
    """
)


def pg_fetch(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the PostgreSQL database at ``url`` and return its rows."""

    async def fetch() -> list[tuple[Any, ...]]:
        import asyncpg

        conn = await asyncpg.connect(url, timeout=10)
        try:
            return [tuple(r) for r in await conn.fetch(sql, *args)]
        finally:
            await conn.close()

    return asyncio.run(fetch())


class Workers:
    """CLI processes started once and released together for each round."""

    def __init__(self, procs: list[subprocess.Popen[str]], barrier: Path) -> None:
        self.procs = procs
        self.barrier = barrier
        self.number = 0

    def _failed(self) -> str | None:
        for proc in self.procs:
            if proc.poll() is not None:
                stdout, stderr = proc.communicate()
                return f"a worker ended early (exit {proc.returncode}):\n{stdout}{stderr}"
        return None

    def _wait(self, pattern: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while len(list(self.barrier.glob(pattern))) < len(self.procs):
            problem = self._failed()
            if problem:
                raise AssertionError(problem)
            if time.monotonic() > deadline:
                raise AssertionError(f"the workers did not reach {pattern} in {TIMEOUT}s")
            time.sleep(0.01)

    def run_round(self, url: str) -> list[Run]:
        """Release every process into its command on the database at ``url``; return the runs."""
        self._wait("ready-*")
        go = self.barrier / f"go-{self.number}"
        part = self.barrier / f".{go.name}"
        part.write_text(url)
        part.rename(go)
        self._wait(f"done-{self.number}-*")
        runs = []
        for done in sorted(self.barrier.glob(f"done-{self.number}-*")):
            code, stdout, stderr = json.loads(done.read_text())
            runs.append(Run(code, stdout, stderr))
        self.number += 1
        return runs


@dataclass
class Run:
    """What one CLI process did."""

    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


class NotesProject:
    """The project folder and the database it migrates (``sqlite://...`` or ``postgres://...``)."""

    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        root.mkdir(parents=True, exist_ok=True)
        (root / "pyproject.toml").write_text(PYPROJECT, encoding="utf-8")
        (root / "settings.py").write_text(SETTINGS, encoding="utf-8")
        (root / "notes_models.py").write_text(MODELS, encoding="utf-8")
        self.folder.mkdir(parents=True, exist_ok=True)

    @property
    def folder(self) -> Path:
        """Return migrations/notes."""
        return self.root / "migrations" / "notes"

    @property
    def is_postgres(self) -> bool:
        """Return whether the database is PostgreSQL."""
        return self.url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        """Return the SQLite database file."""
        return Path(self.url.removeprefix("sqlite://"))

    def write(self, name: str, source: str) -> None:
        """Write migrations/notes/<name>.py."""
        (self.folder / f"{name}.py").write_text(source, encoding="utf-8")

    def env(self) -> dict[str, str]:
        """Return the environment of a CLI process."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TORTOISE_MARCH_")}
        env.update(DATABASE_URL=self.url, PYTHONDONTWRITEBYTECODE="1")
        return env

    def cli(self, *args: str, timeout: float = TIMEOUT) -> Run:
        """Run ``python -m tortoise_march_ext ARGS`` in the project folder."""
        done = subprocess.run(
            [sys.executable, "-m", "tortoise_march_ext", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """Start ``python -m tortoise_march_ext ARGS`` in the project folder."""
        return subprocess.Popen(
            [sys.executable, "-m", "tortoise_march_ext", *args],
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    @contextmanager
    def workers(self, count: int, barrier: Path, *args: str) -> Iterator[Workers]:
        """Start ``count`` processes that each run the CLI with ``args`` once per round."""
        barrier.mkdir()
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(barrier), *args],
                cwd=self.root,
                env=self.env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(count)
        ]
        try:
            yield Workers(procs, barrier)
        finally:
            (barrier / "stop").touch()
            for proc in procs:
                try:
                    proc.communicate(timeout=TIMEOUT)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.communicate()

    # -- reading the database back ---------------------------------------------------------------
    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Run one read query on the database and return its rows."""
        if self.is_postgres:
            return pg_fetch(self.url, sql)
        conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)
        try:
            return [tuple(r) for r in conn.execute(sql)]
        finally:
            conn.close()

    def tables(self) -> set[str]:
        """Return the tables and views of the database (SQLite's own excluded)."""
        if self.is_postgres:
            sql = "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        elif not self.sqlite_path.exists():
            return set()
        else:
            sql = (
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                "AND name NOT LIKE 'sqlite_%'"
            )
        return {r[0] for r in self.query(sql)}

    def recorded(self) -> list[tuple[str, str]]:
        """Return every recorder row (app, name), duplicates included; [] without a recorder."""
        if RECORDER not in self.tables():
            return []
        return [(a, n) for a, n in self.query(f"SELECT app, name FROM {RECORDER} ORDER BY id")]

    def notes(self) -> list[str]:
        """Return the text of every row of the note table."""
        return [r[0] for r in self.query("SELECT text FROM note ORDER BY id")]


@contextmanager
def notes_project(backend: str, tmp_path: Path, files: dict[str, str]) -> Iterator[NotesProject]:
    """Yield the notes project with ``files`` ({name: source}) written as its migrations, on an
    empty database of ``backend`` ("sqlite" or "postgres", dropped afterwards)."""
    from tests.conftest import drop_pg_database, new_pg_database, require_postgres

    if backend == "postgres":
        require_postgres()
        url = new_pg_database()
    else:
        url = f"sqlite://{tmp_path / 'db.sqlite3'}"
    made = NotesProject(tmp_path / "project", url)
    for name, source in files.items():
        made.write(name, source)
    try:
        yield made
    finally:
        if made.is_postgres:
            drop_pg_database(url)
