"""A worker process killed (SIGKILL) in the middle of an atomic migration under ensure_migrated.

On SQLite and PostgreSQL, with real processes: the migration lock dies with the worker (the next
worker gets it within its lock_timeout), nothing of the killed worker's migration is in the
database or the recorder, and the next worker applies it exactly once.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.harness import Backend
from tests.test_concurrency import (
    DEADLINE,
    GATE_KEY,
    MIGRATION,
    MODELS,
    SLOW,
    Outcome,
    advisory_locks,
    pg_fetch,
)
from tests.test_examples import example_env

# The migration creates a table with one row, then waits inside its transaction for the test's gate
# file; the test kills it there.
KILLED_MIGRATION = """\
import asyncio
import os
import time
from pathlib import Path

from tortoise_march_ext import migrations


async def wait_at_gate(apps):
    gate = Path(os.environ["MARCH_TEST_GATE"])
    (gate / f"inside-{os.getpid()}").touch()
    deadline = time.monotonic() + 120
    while not (gate / "open").exists():
        if time.monotonic() > deadline:
            raise RuntimeError("the gate was not opened within 120s")
        await asyncio.sleep(0.01)


class Migration(migrations.Migration):
    initial = True

    dependencies = ()

    operations = (
        migrations.RunSQL("CREATE TABLE slow_marker (id INT)"),
        migrations.RunSQL("INSERT INTO slow_marker (id) VALUES (1)"),
        migrations.RunPython(wait_at_gate),
    )
"""
SETTINGS = """\
import os

TORTOISE_ORM = {
    "connections": {"default": os.environ["DATABASE_URL"]},
    "apps": {"slow": {"models": ["slow_models"], "default_connection": "default"}},
}
"""
KILLABLE_WORKER = textwrap.dedent(
    """
    import asyncio, json, sys

    from settings import TORTOISE_ORM
    from tortoise import Tortoise

    import tortoise_march_ext as march

    async def main():
        await Tortoise.init(config=TORTOISE_ORM)
        try:
            report = await march.ensure_migrated(lock_timeout=float(sys.argv[1]))
            print(json.dumps({"applied": report.applied, "pending": report.pending}))
        finally:
            await Tortoise.close_connections()

    asyncio.run(main())
    """
)


def killable_project(root: Path, migration: str = KILLED_MIGRATION) -> Path:
    """Write the project the killed worker and its successor run in; return the gate folder."""
    (root / "migrations" / "slow").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[tool.tortoise_march_ext]\ntortoise_orm = "settings.TORTOISE_ORM"\n'
        'location = "migrations"\n'
    )
    (root / "settings.py").write_text(SETTINGS)
    (root / "slow_models.py").write_text(MODELS)
    (root / "migrations" / "slow" / "0001_initial.py").write_text(migration)
    gate = root / "gate"
    gate.mkdir()
    return gate


def start_worker(root: Path, url: str, gate: Path, lock_timeout: float) -> subprocess.Popen[str]:
    """Start one worker process that runs ensure_migrated on ``url``."""
    env = example_env(DATABASE_URL=url, MARCH_TEST_GATE=str(gate), TORTOISE_MARCH_ON_DRIFT="ignore")
    return subprocess.Popen(
        [sys.executable, "-c", KILLABLE_WORKER, str(lock_timeout)],
        cwd=root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_inside(proc: subprocess.Popen[str], gate: Path) -> None:
    """Wait until the worker is inside its migration (its transaction open); fail after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while not (gate / f"inside-{proc.pid}").exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the worker ended before it was inside the migration:\n{err}")
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker was not inside within {DEADLINE}s")
        time.sleep(0.01)


def state_of(backend: Backend, url: str) -> dict[str, Any]:
    """Return the recorder rows (duplicates kept) and the migration's table rows (None: absent)."""
    if backend.name == "postgres":
        exists = "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = '{}'"
    else:
        exists = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '{}'"

    def rows(table: str, sql: str) -> list[tuple[Any, ...]] | None:
        if not backend.execute(url, exists.format(table))[0][0]:
            return None
        return backend.execute(url, sql)

    return {
        "recorded": rows(
            "tortoise_march_migrations", "SELECT app, name FROM tortoise_march_migrations"
        ),
        "marker": rows("slow_marker", "SELECT id FROM slow_marker"),
    }


def finish(proc: subprocess.Popen[str]) -> Outcome:
    """Wait for a worker (killing it after DEADLINE seconds) and return what it did."""
    try:
        out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    return Outcome(proc.returncode, out, err)


def kill(proc: subprocess.Popen[str]) -> None:
    """SIGKILL the worker and reap it."""
    os.kill(proc.pid, signal.SIGKILL)
    assert finish(proc).returncode == -signal.SIGKILL


def assert_applied_once(second: Outcome, backend: Backend, url: str) -> None:
    """The next worker succeeded, applied the migration, and the database shows it once."""
    assert second.returncode == 0, second.stderr
    assert second.report["applied"] == ["slow.0001_initial"]
    assert state_of(backend, url) == {"recorded": SLOW, "marker": [(1,)]}
    if backend.name == "postgres":
        assert advisory_locks(url) == []


# MySQL commits DDL as it runs, so a killed worker leaves what ran, under a half-way mark: that
# is tested in test_mysql_dirty.py (a migration killed after each of its statements in turn).
@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_killed_worker_leaves_nothing_and_the_next_applies_once(
    backend: Backend, tmp_path: Path
) -> None:
    root = tmp_path / "killable"
    gate = killable_project(root)
    url = backend.new_url()
    first = start_worker(root, url, gate, lock_timeout=DEADLINE)
    try:
        wait_inside(first, gate)
    finally:
        kill(first)
    assert state_of(backend, url)["marker"] is None
    assert state_of(backend, url)["recorded"] in (None, [])
    # The next worker gets the lock within its lock_timeout and applies the migration once.
    (gate / "open").touch()
    second = start_worker(root, url, gate, lock_timeout=10)
    assert_applied_once(finish(second), backend, url)


def waiting_in_the_migration(url: str) -> dict[int, str]:
    """Return {pid: statement} of the sessions waiting for a lock in a statement of MIGRATION's
    transaction (which also creates the recorder on a fresh database)."""
    rows = pg_fetch(
        url,
        "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND (query LIKE '%slow_marker%' OR query LIKE $1 "
        "OR query LIKE '%tortoise_march_migrations%')",
        f"%pg_advisory_xact_lock({GATE_KEY})%",
    )
    return {r[0]: r[1] for r in rows}


def wait_for(probe: Any, what: str) -> Any:
    """Poll ``probe()`` until it returns something true; fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        time.sleep(0.02)
    return found


def test_a_worker_killed_in_a_blocked_statement_does_not_keep_the_lock(
    pg_url: str, tmp_path: Path
) -> None:
    # Killed while its server session waits inside a statement (for the test's gate lock):
    # PostgreSQL notices the dead client only when that statement ends, so its session and open
    # transaction outlive it. The migration lock must not: the next worker gets it meanwhile.
    root = tmp_path / "killable"
    gate_dir = killable_project(root, MIGRATION)
    gate = Gate(pg_url)
    with gate:
        first = start_worker(root, pg_url, gate_dir, lock_timeout=DEADLINE)
        try:
            (orphan,) = wait_for(lambda: waiting_in_the_migration(pg_url), "worker at the gate")
        finally:
            kill(first)
        second = start_worker(root, pg_url, gate_dir, lock_timeout=DEADLINE / 2)
        try:
            inside = wait_for(
                lambda: set(waiting_in_the_migration(pg_url)) - {orphan},
                "the next worker inside the migration while the killed one's session lives",
            )
            assert orphan in waiting_in_the_migration(pg_url), "the killed session ended early"
            assert state_of(Backend("postgres", tmp_path), pg_url)["marker"] is None
        except BaseException:
            second.kill()
            raise
    assert_applied_once(finish(second), Backend("postgres", tmp_path), pg_url)
    assert len(inside) == 1
    wait_for(
        lambda: orphan not in {r[0] for r in pg_fetch(pg_url, "SELECT pid FROM pg_stat_activity")},
        "the killed worker's session ends once its statement does",
    )


class Gate:
    """Hold the advisory lock MIGRATION waits for, from a thread of its own, until exit."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.held = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._hold()))

    async def _hold(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", GATE_KEY)
            self.held.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        finally:
            await conn.close()

    def __enter__(self) -> Gate:
        self.thread.start()
        assert self.held.wait(DEADLINE), "the gate lock was not taken"
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join()
