"""A throw-away copy of examples/contacts_app, driven through the real CLI in a subprocess.

Used by test_cli.py and test_errors.py. The project's database is either a SQLite file next to the
project or a PostgreSQL database (``pg_url``); :meth:`CliProject.snapshot` reads it back directly
(sqlite3 / asyncpg) so tests can check what the CLI did, or that it did nothing.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "contacts_app"
RECORDER = "tortoise_march_migrations"
TIMEOUT = 180


@dataclass
class Snapshot:
    """What a database and the migration files look like at one moment."""

    tables: dict[str, list[str]]
    recorded: list[tuple[str, str, str]]
    files: dict[str, str]


class CliProject:
    """A copy of the example project with its own database."""

    def __init__(self, root: Path, database_url: str) -> None:
        self.root = root
        self.database_url = database_url

    # -- files -----------------------------------------------------------------------------------
    @property
    def migrations(self) -> Path:
        """Return the migrations folder of the contacts app."""
        return self.root / "migrations" / "contacts"

    @property
    def models_py(self) -> Path:
        """Return contacts/models.py of the copy."""
        return self.root / "contacts" / "models.py"

    def migration_names(self) -> list[str]:
        """Return the migration files of the contacts app, sorted."""
        if not self.migrations.is_dir():
            return []
        return sorted(p.name for p in self.migrations.glob("*.py") if not p.name.startswith("_"))

    def write_migration(self, name: str, body: str) -> Path:
        """Write ``migrations/contacts/<name>.py``."""
        self.migrations.mkdir(parents=True, exist_ok=True)
        path = self.migrations / f"{name}.py"
        path.write_text(body, encoding="utf-8")
        return path

    def replace_in(self, path: Path, old: str, new: str) -> None:
        """Replace ``old`` (which must occur) by ``new`` in ``path``."""
        text = path.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not found in {path}"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")

    def add_contact_field(self, line: str) -> None:
        """Add a field line to the Contact model."""
        anchor = "    created_at = fields.DatetimeField(auto_now_add=True)\n"
        self.replace_in(self.models_py, anchor, anchor + f"    {line}\n")

    def write_pyproject(self, text: str) -> None:
        """Replace the project's pyproject.toml."""
        (self.root / "pyproject.toml").write_text(text, encoding="utf-8")

    # -- running the CLI -------------------------------------------------------------------------
    def env(self, **extra: str) -> dict[str, str]:
        """Return the environment of a CLI run."""
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("TORTOISE_MARCH_CONFIG", "TORTOISE_MARCH_ON_DRIFT", "DATABASE_URL")
        }
        env["DATABASE_URL"] = self.database_url
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.update(extra)
        return env

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run ``python -m tortoise_march_ext ARGS`` in the project folder (empty stdin)."""
        return self.answer("", *args, **env)

    def answer(self, stdin: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        """Run the CLI with ``stdin`` piped in (the answers to its questions)."""
        return subprocess.run(
            [sys.executable, "-m", "tortoise_march_ext", *args],
            cwd=self.root,
            env=self.env(**env),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def ok(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the CLI and assert it exited 0 without writing to stderr's error line."""
        result = self.run(*args)
        assert result.returncode == 0, show(result)
        assert "error:" not in result.stderr, show(result)
        return result

    # -- reading the database back ---------------------------------------------------------------
    @property
    def is_postgres(self) -> bool:
        """Return whether the project runs on PostgreSQL."""
        return self.database_url.startswith(("postgres://", "postgresql://"))

    @property
    def sqlite_path(self) -> Path:
        """Return the SQLite file of the project."""
        return Path(self.database_url.removeprefix("sqlite://"))

    def snapshot(self) -> Snapshot:
        """Return tables (with columns), recorder rows and migration files as they are now."""
        if self.is_postgres:
            tables, recorded = _pg_read(self.database_url)
        elif self.database_url.startswith("mysql://"):
            tables, recorded = asyncio.run(_mysql_read(self.database_url))
        else:
            tables, recorded = self._sqlite_read()
        return Snapshot(tables, recorded, self.files())

    def files(self) -> dict[str, str]:
        """Return every file under the migrations folder with its text (not the state cache)."""
        folder = self.root / "migrations"
        if not folder.is_dir():
            return {}
        return {
            str(p.relative_to(folder)): p.read_text(encoding="utf-8")
            for p in sorted(folder.rglob("*"))
            if p.is_file() and ".march_cache" not in p.relative_to(folder).parts
        }

    def tables(self) -> set[str]:
        """Return the names of the tables in the database."""
        return set(self.snapshot().tables)

    def recorded(self) -> list[str]:
        """Return the names of the recorded migrations of the contacts app."""
        return [name for app, name, _ in self.snapshot().recorded if app == "contacts"]

    def _sqlite_read(self) -> tuple[dict[str, list[str]], list[tuple[str, str, str]]]:
        if not self.sqlite_path.exists():
            return {}, []
        conn = sqlite3.connect(f"file:{self.sqlite_path}?mode=ro", uri=True)
        try:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            tables = {n: [r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')] for n in names}
            recorded: list[tuple[str, str, str]] = []
            if RECORDER in tables:
                recorded = [
                    tuple(r)  # type: ignore[misc]
                    for r in conn.execute(
                        f"SELECT app, name, checksum FROM {RECORDER} ORDER BY app, name"
                    )
                ]
            return tables, recorded
        finally:
            conn.close()


async def _mysql_read(url: str) -> tuple[dict[str, list[str]], list[tuple[str, str, str]]]:
    import asyncmy

    from tests.conftest import _mysql_parts

    conn = await asyncmy.connect(**_mysql_parts(), db=url.rsplit("/", 1)[1], connect_timeout=10)
    try:
        async with conn.cursor() as cursor:
            await cursor.execute(
                "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS "
                "WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME, ORDINAL_POSITION"
            )
            tables: dict[str, list[str]] = {}
            for table, column in await cursor.fetchall():
                tables.setdefault(table, []).append(column)
            recorded: list[tuple[str, str, str]] = []
            if RECORDER in tables:
                await cursor.execute(
                    f"SELECT app, name, checksum FROM {RECORDER} ORDER BY app, name"
                )
                recorded = [tuple(r) for r in await cursor.fetchall()]  # type: ignore[misc]
        return tables, recorded
    finally:
        conn.close()


def _pg_read(url: str) -> tuple[dict[str, list[str]], list[tuple[str, str, str]]]:
    return asyncio.run(_pg_read_async(url))


async def _pg_read_async(url: str) -> tuple[dict[str, list[str]], list[tuple[str, str, str]]]:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10)
    try:
        rows = await conn.fetch(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        )
        tables: dict[str, list[str]] = {}
        for row in rows:
            tables.setdefault(row["table_name"], []).append(row["column_name"])
        recorded: list[tuple[str, str, str]] = []
        if RECORDER in tables:
            recorded = [
                (r["app"], r["name"], r["checksum"])
                for r in await conn.fetch(
                    f"SELECT app, name, checksum FROM {RECORDER} ORDER BY app, name"
                )
            ]
        return tables, recorded
    finally:
        await conn.close()


def run_python(root: Path, env: dict[str, str], source: str) -> subprocess.CompletedProcess[str]:
    """Run the Python script ``source`` in the project folder ``root`` with ``env``."""
    return subprocess.run(
        [sys.executable, "-c", source],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def make_project(tmp_path: Path, database_url: str | None = None) -> CliProject:
    """Copy examples/contacts_app into ``tmp_path`` (without generated files) and return it."""
    root = tmp_path / "project"
    shutil.copytree(
        EXAMPLE,
        root,
        ignore=shutil.ignore_patterns("migrations", "*.sqlite3*", "__pycache__", "*.db"),
    )
    url = database_url or f"sqlite://{tmp_path / 'db.sqlite3'}"
    return CliProject(root, url)


def show(result: subprocess.CompletedProcess[str]) -> str:
    """Return a readable account of a CLI run, for assertion messages."""
    return (
        f"\n$ {' '.join(str(a) for a in result.args[3:])}\nexit code {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}--- stderr ---\n{result.stderr}"
    )


def error_problems(
    result: subprocess.CompletedProcess[str], exit_code: int, *words: str
) -> list[str]:
    """Return how a failed run breaks the error contract (empty when it keeps it).

    The contract: exit code ``exit_code``; stderr is exactly one line starting with ``error: ``
    that names each of ``words``; no traceback; not the catch-all "unexpected" crash line.
    """
    problems: list[str] = []
    if result.returncode != exit_code:
        problems.append(f"exit code {result.returncode}, expected {exit_code}")
    if "Traceback" in result.stderr:
        problems.append("a traceback was printed")
    lines = result.stderr.strip().splitlines()
    if len(lines) != 1:
        problems.append(f"stderr has {len(lines)} lines, expected exactly one")
    if not lines or not lines[0].startswith("error: "):
        problems.append("stderr does not start with 'error: '")
    elif lines[0].startswith("error: unexpected "):
        problems.append("the error is an unexpected crash, not a handled error")
    first = lines[0] if lines else ""
    for word in words:
        if word not in first:
            problems.append(f"the error line does not name {word!r}")
    return problems


def assert_error(result: subprocess.CompletedProcess[str], exit_code: int, *words: str) -> None:
    """Assert the run failed the way the CLI contract says (see :func:`error_problems`)."""
    problems = error_problems(result, exit_code, *words)
    assert not problems, "; ".join(problems) + show(result)


def assert_unchanged(before: Snapshot, after: Snapshot) -> None:
    """Assert the database and the migration files did not change."""
    assert after.tables == before.tables, "tables changed"
    assert after.recorded == before.recorded, "recorder rows changed"
    assert after.files == before.files, "migration files changed"


def migration_source(dependencies: str, *operations: str, imports: str = "") -> str:
    """Return a hand-written migration module."""
    ops = "".join(f"        {op},\n" for op in operations)
    return (
        f'"""Hand-written."""\n\n{imports}from tortoise_march_ext import migrations\n\n\n'
        f"class Migration(migrations.Migration):\n"
        f"    dependencies = [{dependencies}]\n\n"
        f"    operations = [\n{ops}    ]\n"
    )
