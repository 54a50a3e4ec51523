"""Many processes migrating one PostgreSQL database at once: exactly one applies, none fail.

Also: uvicorn with several workers, the lock timeout, and a cancellation that lands while the
migration waits inside its transaction (seen in pg_stat_activity). A killed worker is in
test_killed_worker.py. Real databases and real processes only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import pytest
from tortoise import Tortoise

import tortoise_march_ext as march
from tests.conftest import drop_pg_database, new_pg_database, require_postgres
from tests.test_examples import INITIAL, copy_example, example_env, serve
from tortoise_march_ext.backends.locks import LOCK_KEY
from tortoise_march_ext.exceptions import LockTimeout

PROCESSES = 8
STRESS_ROUNDS = int(os.environ.get("MARCH_STRESS_ROUNDS", "20"))
CONTACT_TABLES = {"company", "contact", "tag", "contact_tag"}

# One migrating process: import and initialise everything, say "ready", wait for "go" so that all
# processes call ensure_migrated at the same moment, then print the report as JSON.
WORKER = textwrap.dedent(
    """
    import asyncio, json, os, sys, time
    from pathlib import Path

    from settings import TORTOISE_ORM
    from tortoise import Tortoise

    import tortoise_march_ext as march

    async def main():
        barrier = Path(sys.argv[1])
        await Tortoise.init(config=TORTOISE_ORM)
        try:
            (barrier / f"ready-{os.getpid()}").touch()
            deadline = time.monotonic() + 120
            while not (barrier / "go").exists():
                if time.monotonic() > deadline:
                    raise SystemExit("no go signal within 120s")
                await asyncio.sleep(0.005)
            report = await march.ensure_migrated()
            print(json.dumps({"applied": report.applied, "pending": report.pending}))
        finally:
            await Tortoise.close_connections()

    asyncio.run(main())
    """
)


async def _fetch(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    conn = await asyncpg.connect(url)
    try:
        return [tuple(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


def pg_fetch(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one query on the database at ``url`` and return its rows."""
    return asyncio.run(_fetch(url, sql, *args))


def pg_recorded(url: str) -> list[tuple[str, str]]:
    """Return every (app, name) row of the recorder, duplicates included, or [] without it."""
    if not pg_fetch(url, "SELECT to_regclass('tortoise_march_migrations')")[0][0]:
        return []
    return pg_fetch(url, "SELECT app, name FROM tortoise_march_migrations ORDER BY app, name")


def pg_tables(url: str) -> set[str]:
    """Return the names of the tables in the public schema."""
    rows = pg_fetch(url, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    return {r[0] for r in rows}


def advisory_locks(url: str) -> list[tuple[Any, ...]]:
    """Return the advisory locks held or awaited in the database at ``url``."""
    return pg_fetch(
        url,
        "SELECT l.pid, l.granted, l.objid FROM pg_locks l JOIN pg_database d "
        "ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()",
    )


@pytest.fixture
def contacts_app(tmp_path: Path) -> Path:
    """A copy of examples/contacts_app."""
    return copy_example("contacts_app", tmp_path)


@dataclass
class Outcome:
    """What one migrating process did."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict[str, list[str]]:
        """Return the JSON report the process printed last."""
        lines = self.stdout.strip().splitlines()
        try:
            return dict(json.loads(lines[-1]))
        except (IndexError, ValueError):
            raise AssertionError(f"no JSON report in the output: {self.stdout!r}") from None


def migrate_at_once(folder: Path, url: str, barrier: Path, count: int = PROCESSES) -> list[Outcome]:
    """Start ``count`` processes, release them together into ensure_migrated, collect them."""
    barrier.mkdir()
    env = example_env(DATABASE_URL=url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(barrier)],
            cwd=folder,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(list(barrier.glob("ready-*"))) < count:
            if any(p.poll() not in (None, 0) for p in procs) or time.monotonic() > deadline:
                break
            time.sleep(0.01)
        (barrier / "go").touch()
        outcomes = []
        for proc in procs:
            stdout, stderr = proc.communicate(timeout=120)
            outcomes.append(Outcome(proc.returncode, stdout, stderr))
        return outcomes
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def assert_migrated_once(outcomes: list[Outcome], url: str) -> None:
    """Every process succeeded, exactly one applied the migration, recorded exactly once."""
    failures = [o for o in outcomes if o.returncode != 0]
    assert not failures, "\n\n".join(f"exit {o.returncode}\n{o.stderr}" for o in failures)
    errors = [o.stderr for o in outcomes if o.stderr.strip()]
    assert not errors, "\n\n".join(errors)
    applied = [o.report["applied"] for o in outcomes if o.report["applied"]]
    assert applied == [["contacts.0001_initial"]], [o.report for o in outcomes]
    assert pg_recorded(url) == INITIAL
    assert CONTACT_TABLES <= pg_tables(url)


def test_eight_processes_at_once_apply_once(
    contacts_app: Path, pg_url: str, tmp_path: Path
) -> None:
    outcomes = migrate_at_once(contacts_app, pg_url, tmp_path / "barrier")
    assert len(outcomes) == PROCESSES
    assert_migrated_once(outcomes, pg_url)
    assert advisory_locks(pg_url) == []


def test_stress_rounds_of_concurrent_starts(contacts_app: Path, tmp_path: Path) -> None:
    require_postgres()
    for round_ in range(STRESS_ROUNDS):
        # A cold state cache each round: the processes also race to write it.
        shutil.rmtree(contacts_app / "migrations" / ".march_cache", ignore_errors=True)
        url = new_pg_database()
        try:
            outcomes = migrate_at_once(contacts_app, url, tmp_path / f"barrier-{round_}")
            try:
                assert_migrated_once(outcomes, url)
                assert advisory_locks(url) == []
            except AssertionError as exc:
                raise AssertionError(f"round {round_ + 1}/{STRESS_ROUNDS}: {exc}") from None
        finally:
            drop_pg_database(url)


def test_uvicorn_workers_migrate_once(pg_url: str, tmp_path: Path) -> None:
    folder = copy_example("fastapi_app", tmp_path)
    with serve(folder, example_env(DATABASE_URL=pg_url), "--workers", "4") as server:
        server.wait_until_answers()
        deadline = time.monotonic() + 60
        while server.output().count("Application startup complete.") < 4:
            assert "startup failed" not in server.output(), server.output()
            assert time.monotonic() < deadline, "4 workers did not start:\n" + server.output()
            time.sleep(0.1)
        assert server.get("/contacts").json() == []
        created = server.post("/contacts", {"name": "Ada", "email": "", "company": "Acme"}).json()
        for _ in range(8):
            assert server.get("/contacts").json() == [created]
        assert pg_recorded(pg_url) == INITIAL
        assert CONTACT_TABLES <= pg_tables(pg_url)
        assert "Traceback" not in server.output(), server.output()


# In-process tests: a project whose only migration creates a table with one row, then takes an
# advisory lock the test may hold: the migration then waits inside its transaction, and
# pg_stat_activity shows it waiting there, for as long as the test wants.
GATE_KEY = 4242
MIGRATION = f"""\
from tortoise_march_ext import migrations


class Migration(migrations.Migration):
    initial = True

    dependencies = ()

    operations = (
        migrations.RunSQL("CREATE TABLE slow_marker (id INT)"),
        migrations.RunSQL("INSERT INTO slow_marker (id) VALUES (1)"),
        migrations.RunSQL("SELECT pg_advisory_xact_lock({GATE_KEY})"),
    )
"""
MODELS = """\
from tortoise import fields
from tortoise.models import Model


class Marker(Model):
    id = fields.IntField(primary_key=True)

    class Meta:
        table = "slow_marker"
"""
SLOW = [("slow", "0001_initial")]
DEADLINE = 60.0  # a safety net: what hangs fails the test instead of hanging it


@pytest.fixture
def slow_project(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, Any]]:
    """Write the project and return the Tortoise config of it on a fresh database."""
    root = tmp_path / "slow_project"
    (root / "migrations" / "slow").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[tool.tortoise_march_ext]\nlocation = "migrations"\n')
    module = f"march_slow_models_{tmp_path.name.replace('-', '_')}"
    (root / f"{module}.py").write_text(MODELS)
    (root / "migrations" / "slow" / "0001_initial.py").write_text(MIGRATION)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.chdir(root)
    monkeypatch.setenv("TORTOISE_MARCH_ON_DRIFT", "ignore")
    yield {
        "root": root,
        "url": pg_url,
        "tortoise": {
            "connections": {"default": pg_url},
            "apps": {"slow": {"models": [module], "default_connection": "default"}},
        },
    }
    sys.modules.pop(module, None)


async def recorded(url: str) -> list[tuple[Any, ...]]:
    """Return the recorder rows (async)."""
    if not (await _fetch(url, "SELECT to_regclass('tortoise_march_migrations')"))[0][0]:
        return []
    return await _fetch(url, "SELECT app, name FROM tortoise_march_migrations ORDER BY app, name")


async def marker_rows(url: str) -> list[tuple[Any, ...]] | None:
    """Return the committed rows of the migration's table, None when it does not exist."""
    if (await _fetch(url, "SELECT to_regclass('slow_marker')"))[0][0] is None:
        return None
    return await _fetch(url, "SELECT id FROM slow_marker")


async def locks(url: str) -> list[tuple[Any, ...]]:
    """Return the advisory locks in the database (async), the test's gate left out."""
    return await _fetch(
        url,
        "SELECT l.pid, l.granted FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
        "WHERE l.locktype = 'advisory' AND d.datname = current_database() "
        "AND NOT (l.classid = 0 AND l.objid = $1)",
        GATE_KEY,
    )


async def busy_sessions(url: str) -> list[tuple[Any, ...]]:
    """Return the other sessions of the database that are running or inside a transaction."""
    return await _fetch(
        url,
        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() AND state IS DISTINCT FROM 'idle'",
    )


async def at_the_gate(url: str) -> list[int]:
    """Return the pids of the sessions waiting for the gate inside the migration."""
    rows = await _fetch(
        url,
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND wait_event_type = 'Lock' AND query LIKE $1",
        f"%pg_advisory_xact_lock({GATE_KEY})%",
    )
    return [r[0] for r in rows]


async def _close_tortoise() -> None:
    await Tortoise.close_connections()
    await Tortoise._reset_apps()


def test_lock_timeout_is_a_clear_error_and_applies_nothing(slow_project: dict[str, Any]) -> None:
    url = slow_project["url"]

    async def main() -> None:
        holder = await asyncpg.connect(url)
        await Tortoise.init(config=slow_project["tortoise"])
        try:
            await holder.fetchval("SELECT pg_advisory_lock($1)", LOCK_KEY)
            holder_pid = holder.get_server_pid()
            started = time.monotonic()
            with anyio.fail_after(DEADLINE), pytest.raises(LockTimeout) as caught:
                await march.ensure_migrated(lock_timeout=0.5)
            waited = time.monotonic() - started
            assert waited >= 0.5, waited
            message = str(caught.value)
            assert "migration lock" in message, message
            assert "0.5s" in message, message
            assert isinstance(caught.value, march.MarchError)
            assert await recorded(url) == []
            assert await marker_rows(url) is None
            assert await locks(url) == [(holder_pid, True)]

            assert await holder.fetchval("SELECT pg_advisory_unlock($1)", LOCK_KEY) is True
            with anyio.fail_after(DEADLINE):
                report = await march.ensure_migrated(lock_timeout=0.5)
            assert report.applied == ["slow.0001_initial"]
            assert await recorded(url) == SLOW
            assert await marker_rows(url) == [(1,)]
            assert await locks(url) == []
        finally:
            await holder.close()
            await _close_tortoise()

    anyio.run(main)


async def wait_until(probe: Any, what: str) -> Any:
    """Poll ``probe()`` until it returns something true; fail after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not (found := await probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {DEADLINE}s: {what}")
        await anyio.sleep(0.02)
    return found


def test_cancelled_migration_leaves_no_lock_and_no_record(slow_project: dict[str, Any]) -> None:
    url = slow_project["url"]
    started: list[str | None] = []
    finished: list[object] = []

    async def on_pre_migrate(*, migration: str | None = None, **_: Any) -> None:
        started.append(migration)

    async def migrate() -> None:
        finished.append(await march.ensure_migrated())

    async def inside() -> list[int]:
        assert not finished, "the migration finished before the test could cancel it"
        return await at_the_gate(url)

    async def main() -> None:
        gate = await asyncpg.connect(url)
        await gate.execute("SELECT pg_advisory_lock($1)", GATE_KEY)
        # Safety net: if the cancellation does not land, ending the gate's session lets the
        # migration finish (and the test fail) instead of hanging.
        watchdog = threading.Timer(DEADLINE, end_session, (url, gate.get_server_pid()))
        watchdog.start()
        await Tortoise.init(config=slow_project["tortoise"])
        march.signals.pre_migrate.connect(on_pre_migrate)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(migrate)
                # Cancel only once PostgreSQL shows the migration waiting inside its transaction.
                await wait_until(inside, "the migration waits at the gate")
                group.cancel_scope.cancel()
            assert finished == [], "ensure_migrated finished although it was cancelled"
            assert started == [None, "slow.0001_initial"]
            # Its statement is cancelled on the server too: nobody waits at the gate any more,
            # while the gate is still closed.
            await wait_until(
                lambda: _none(at_the_gate(url)), "the cancelled statement ends on the server"
            )
            assert await locks(url) == []
            assert await recorded(url) == []
            assert await marker_rows(url) is None
            await gate.execute("SELECT pg_advisory_unlock($1)", GATE_KEY)
            # No session may still be running the migration or sit in its open transaction.
            await wait_until(lambda: _none(busy_sessions(url)), "no session left busy")
            assert await recorded(url) == []
            assert await marker_rows(url) is None
            # The application's own Tortoise connection still works after the cancellation.
            client = Tortoise.get_connection("default")
            problem = None
            try:
                await client.execute_query("SELECT 1")
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                problem = (
                    "after the cancelled ensure_migrated the app's connection 'default' is a "
                    f"{type(client).__name__} and fails: {type(exc).__name__}: {exc}"
                )
            assert problem is None, problem

            with anyio.fail_after(DEADLINE):
                report = await march.ensure_migrated()
            assert report.applied == ["slow.0001_initial"]
            assert await recorded(url) == SLOW
            assert await marker_rows(url) == [(1,)]
            assert await locks(url) == []
            await Tortoise.close_connections()
        finally:
            watchdog.cancel()
            march.signals.pre_migrate.disconnect(on_pre_migrate)
            with contextlib.suppress(Exception):
                await gate.close()
            # Best effort: a failure above is the one to report, not a failing close after it.
            with contextlib.suppress(Exception):
                await _close_tortoise()

    anyio.run(main)


def end_session(url: str, pid: int) -> None:
    """Terminate the server session ``pid`` (from a thread of its own)."""
    pg_fetch(url, "SELECT pg_terminate_backend($1)", pid)


async def _none(rows: Any) -> bool:
    """Return True when the awaited query found no rows."""
    return not await rows
