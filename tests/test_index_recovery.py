"""Recovering from a ``migrate`` killed during CREATE INDEX CONCURRENTLY, with real processes.

A session holding a write lock on the table makes the build wait (phase "waiting for writers
before build"), so the test can SIGKILL the ``migrate`` process while pg_stat_activity shows
the build. The server backend goes on after its client died; releasing the writer lets it
finish (a VALID index nobody recorded) or cancelling it leaves an INVALID index. Each rerun
must get past what was left, or say in one line why it cannot.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.cliproject import CliProject, assert_error, make_project, migration_source, show

FAILED = 3
INITIAL = '("contacts", "0001_initial")'
IMPORTS = "from tortoise_march_ext.schema import fields\n"
INDEX = "contact_email_idx"
ADD_INDEX = (
    f'migrations.AddIndex("Contact", fields.Index(fields=("email",), name="{INDEX}"), '
    "concurrently=True)"
)
UNIQUE = "contact_email_key"
ADD_UNIQUE = (
    "migrations.AddConstraint("
    f'"Contact", fields.UniqueConstraint(fields=("email",), name="{UNIQUE}"), concurrently=True)'
)
SAFETY = 120.0  # seconds; only so that a hang fails instead of blocking the suite


# -- database helpers ------------------------------------------------------------------------------
def fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Run one query on a fresh connection and return its rows."""

    async def go() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(url)
        try:
            return list(await conn.fetch(sql, *args))
        finally:
            await conn.close()

    return asyncio.run(go())


def index_row(url: str, name: str) -> asyncpg.Record | None:
    """Return oid, validity and definition of the index ``name`` (None when there is none)."""
    rows = fetch(
        url,
        "SELECT c.oid, i.indisvalid, pg_get_indexdef(c.oid) AS definition FROM pg_class c "
        "JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = $1",
        name,
    )
    return rows[0] if rows else None


def builders(url: str) -> list[int]:
    """Return the pids of the sessions building an index on ``contact`` right now."""
    rows = fetch(
        url,
        "SELECT p.pid FROM pg_stat_progress_create_index p WHERE p.relid = 'contact'::regclass",
    )
    return [r["pid"] for r in rows]


def wait_until(what: str, condition: Any) -> Any:
    """Poll ``condition`` until it returns something true; fail after the safety deadline."""
    deadline = time.monotonic() + SAFETY
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")


def waiting_build(url: str) -> int | None:
    """Return the pid of a CREATE INDEX CONCURRENTLY on ``contact`` that waits for writers."""
    rows = fetch(
        url,
        "SELECT p.pid FROM pg_stat_progress_create_index p "
        "JOIN pg_stat_activity a ON a.pid = p.pid "
        "WHERE p.relid = 'contact'::regclass AND p.phase = 'waiting for writers before build' "
        "AND a.query ILIKE 'CREATE%INDEX CONCURRENTLY%'",
    )
    return rows[0]["pid"] if rows else None


def backend_gone(url: str, pid: int) -> bool:
    """Return whether the server session ``pid`` has ended."""
    return not fetch(url, "SELECT 1 FROM pg_stat_activity WHERE pid = $1", pid)


class Writer:
    """A session with an open transaction holding ROW EXCLUSIVE on ``contact``: a concurrent
    index build waits for it before it starts building."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._hold()))

    async def _hold(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            async with conn.transaction():
                await conn.execute('LOCK TABLE "contact" IN ROW EXCLUSIVE MODE')
                self.locked.set()
                while not self.release.is_set():
                    await asyncio.sleep(0.02)
        finally:
            await conn.close()

    def __enter__(self) -> Writer:
        self.thread.start()
        assert self.locked.wait(SAFETY)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join(SAFETY)


class Builder:
    """Another session running ``sql`` (a CREATE INDEX CONCURRENTLY) until it ends."""

    def __init__(self, url: str, sql: str) -> None:
        self.url, self.sql = url, sql
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        async def go() -> None:
            conn = await asyncpg.connect(self.url)
            try:
                await conn.execute(self.sql)
            finally:
                await conn.close()

        try:
            asyncio.run(go())
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def start(self) -> Builder:
        self.thread.start()
        return self

    def join(self) -> None:
        self.thread.join(SAFETY)
        assert not self.thread.is_alive(), "the index build did not end"


# -- CLI helpers -----------------------------------------------------------------------------------
def start_migrate(project: CliProject) -> subprocess.Popen[str]:
    """Start ``python -m tortoise_march_ext migrate`` in the project, stderr piped."""
    return subprocess.Popen(
        [sys.executable, "-m", "tortoise_march_ext", "migrate"],
        cwd=project.root,
        env=project.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_during_build(project: CliProject) -> int:
    """Run migrate, SIGKILL it while its CREATE INDEX CONCURRENTLY waits for the writer that
    must be holding ``contact``; return the pid of the server session left building."""
    process = start_migrate(project)
    try:
        pid = wait_until(
            "the concurrent build to start", lambda: waiting_build(project.database_url)
        )
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=SAFETY)
    assert process.returncode == -signal.SIGKILL
    # The server session does not notice its client died: it is still there, still waiting.
    assert waiting_build(project.database_url) == pid
    return int(pid)


def line_with(process: subprocess.Popen[str], word: str) -> str:
    """Return the first stderr line of ``process`` that holds ``word`` (fail at the safety
    deadline, or when the process ends without writing it)."""
    assert process.stderr is not None
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in process.stderr], daemon=True).start()
    seen = []
    deadline = time.monotonic() + SAFETY
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if process.poll() is not None and lines.empty():
                break
            continue
        seen.append(line)
        if word in line:
            return line
    process.kill()
    pytest.fail(f"no stderr line with {word!r}; got: {''.join(seen)!r}")


@pytest.fixture
def project(tmp_path: Path, pg_url: str) -> Iterator[CliProject]:
    """Return the example project on PostgreSQL with 0001_initial applied and some rows."""
    project = make_project(tmp_path, pg_url)
    project.ok("makemigrations")
    project.ok("migrate")
    fetch(
        pg_url,
        "INSERT INTO contact (name, email, created_at) "
        "SELECT 'c' || g, 'c' || g || '@example.com', now() FROM generate_series(1, 200) g",
    )
    yield project


# -- AddIndex(concurrently=True) -------------------------------------------------------------------
def test_killed_build_that_the_server_finished_is_kept(project: CliProject) -> None:
    project.write_migration(
        "0002_email_index", migration_source(INITIAL, ADD_INDEX, imports=IMPORTS)
    )
    with Writer(project.database_url):
        pid = kill_during_build(project)
    wait_until("the orphaned build to finish", lambda: backend_gone(project.database_url, pid))
    left = index_row(project.database_url, INDEX)
    assert left is not None and left["indisvalid"], "the server should have finished the build"
    assert project.recorded() == ["0001_initial"]

    result = project.ok("migrate")
    assert INDEX in result.stderr and "kept" in result.stderr, show(result)
    assert project.recorded() == ["0001_initial", "0002_email_index"]
    after = index_row(project.database_url, INDEX)
    assert after is not None and after["indisvalid"]
    assert after["oid"] == left["oid"], "the finished index should be kept, not rebuilt"


def test_killed_build_that_the_server_aborted_is_rebuilt(project: CliProject) -> None:
    project.write_migration(
        "0002_email_index", migration_source(INITIAL, ADD_INDEX, imports=IMPORTS)
    )
    with Writer(project.database_url):
        pid = kill_during_build(project)
        fetch(project.database_url, "SELECT pg_cancel_backend($1)", pid)
        wait_until("the cancelled build to end", lambda: backend_gone(project.database_url, pid))
    left = index_row(project.database_url, INDEX)
    assert left is not None and not left["indisvalid"], "a cancelled build leaves INVALID"

    project.ok("migrate")
    assert project.recorded() == ["0001_initial", "0002_email_index"]
    after = index_row(project.database_url, INDEX)
    assert after is not None and after["indisvalid"]
    assert after["oid"] != left["oid"]


def test_rerun_waits_for_the_build_still_running(project: CliProject) -> None:
    project.write_migration(
        "0002_email_index", migration_source(INITIAL, ADD_INDEX, imports=IMPORTS)
    )
    with Writer(project.database_url):
        pid = kill_during_build(project)
        rerun = start_migrate(project)
        line = line_with(rerun, "being built")
        assert INDEX in line and str(pid) in line, line
        assert rerun.poll() is None, "the rerun should wait while the build runs"
    rerun.wait(timeout=SAFETY)
    assert rerun.returncode == 0, line
    assert project.recorded() == ["0001_initial", "0002_email_index"]
    after = index_row(project.database_url, INDEX)
    assert after is not None and after["indisvalid"]


def test_rerun_says_so_when_the_build_outlasts_its_lock_timeout(project: CliProject) -> None:
    body = migration_source(INITIAL, ADD_INDEX, imports=IMPORTS).replace(
        "    dependencies", '    lock_timeout = "200ms"\n    lock_retries = 0\n\n    dependencies'
    )
    project.write_migration("0002_email_index", body)
    create = f'CREATE INDEX CONCURRENTLY "{INDEX}" ON "contact" ("email")'
    with Writer(project.database_url):
        builder = Builder(project.database_url, create).start()
        pid = wait_until("the other build to start", lambda: waiting_build(project.database_url))
        result = project.run("migrate")
        assert waiting_build(project.database_url) == pid, "the other build must be left alone"
    builder.join()
    assert builder.error is None
    # One line says what it waits for, then the error line says why it stopped and what to do.
    waiting, _, error = result.stderr.partition("\n")
    assert "being built" in waiting and str(pid) in waiting, show(result)
    result.stderr = error
    assert_error(result, FAILED, INDEX, str(pid), "pg_cancel_backend")
    assert project.recorded() == ["0001_initial"]


def test_same_name_different_definition_is_refused(project: CliProject) -> None:
    project.write_migration(
        "0002_email_index", migration_source(INITIAL, ADD_INDEX, imports=IMPORTS)
    )
    fetch(project.database_url, f'CREATE INDEX "{INDEX}" ON "contact" ("name")')
    before = index_row(project.database_url, INDEX)
    result = project.run("migrate")
    assert_error(result, FAILED, INDEX, "different definition", "DROP INDEX")
    assert project.recorded() == ["0001_initial"]
    assert index_row(project.database_url, INDEX) == before


def test_same_columns_but_unique_is_a_different_definition(project: CliProject) -> None:
    project.write_migration(
        "0002_email_index", migration_source(INITIAL, ADD_INDEX, imports=IMPORTS)
    )
    fetch(project.database_url, f'CREATE UNIQUE INDEX "{INDEX}" ON "contact" ("email")')
    result = project.run("migrate")
    assert_error(result, FAILED, INDEX, "different definition")
    assert project.recorded() == ["0001_initial"]


# -- AddConstraint(unique, concurrently=True) and RemoveIndex(concurrently=True) ------------------
def test_killed_unique_constraint_build_is_attached_on_rerun(project: CliProject) -> None:
    project.write_migration(
        "0002_email_key", migration_source(INITIAL, ADD_UNIQUE, imports=IMPORTS)
    )
    with Writer(project.database_url):
        pid = kill_during_build(project)
    wait_until("the orphaned build to finish", lambda: backend_gone(project.database_url, pid))
    left = index_row(project.database_url, UNIQUE)
    assert left is not None and left["indisvalid"]

    project.ok("migrate")
    assert project.recorded() == ["0001_initial", "0002_email_key"]
    rows = fetch(
        project.database_url,
        "SELECT contype::text, conindid FROM pg_constraint WHERE conname = $1",
        UNIQUE,
    )
    assert [(r["contype"], r["conindid"]) for r in rows] == [("u", left["oid"])]


def test_unique_constraint_already_attached_goes_on(project: CliProject) -> None:
    # What a kill after ADD CONSTRAINT ... USING INDEX but before the recorder row leaves.
    project.write_migration(
        "0002_email_key", migration_source(INITIAL, ADD_UNIQUE, imports=IMPORTS)
    )
    fetch(project.database_url, f'CREATE UNIQUE INDEX "{UNIQUE}" ON "contact" ("email")')
    fetch(
        project.database_url,
        f'ALTER TABLE "contact" ADD CONSTRAINT "{UNIQUE}" UNIQUE USING INDEX "{UNIQUE}"',
    )
    project.ok("migrate")
    assert project.recorded() == ["0001_initial", "0002_email_key"]


def test_remove_index_already_gone_goes_on(project: CliProject) -> None:
    project.write_migration(
        "0002_email_index", migration_source(INITIAL, ADD_INDEX, imports=IMPORTS)
    )
    project.ok("migrate")
    remove = f'migrations.RemoveIndex("Contact", "{INDEX}", concurrently=True)'
    project.write_migration(
        "0003_drop_email_index", migration_source('("contacts", "0002_email_index")', remove)
    )
    fetch(project.database_url, f'DROP INDEX "{INDEX}"')
    project.ok("migrate")
    assert project.recorded() == ["0001_initial", "0002_email_index", "0003_drop_email_index"]
    assert index_row(project.database_url, INDEX) is None


def test_index_on_another_table_of_that_name_is_refused(project: CliProject) -> None:
    project.write_migration(
        "0002_email_index", migration_source(INITIAL, ADD_INDEX, imports=IMPORTS)
    )
    fetch(project.database_url, f'CREATE INDEX "{INDEX}" ON "tag" ("label")')
    result = project.run("migrate")
    assert_error(result, FAILED, INDEX, "another table", "tag")
    assert project.recorded() == ["0001_initial"]


def waiting_drop(url: str) -> int | None:
    """Return the pid of a DROP INDEX CONCURRENTLY that waits for a lock."""
    rows = fetch(
        url,
        "SELECT pid FROM pg_stat_activity WHERE query ILIKE 'DROP INDEX CONCURRENTLY%' "
        "AND wait_event_type = 'Lock'",
    )
    return rows[0]["pid"] if rows else None


@pytest.mark.parametrize("outcome", ["finished", "cancelled"])
def test_killed_concurrent_drop_goes_on(project: CliProject, outcome: str) -> None:
    project.write_migration(
        "0002_email_index", migration_source(INITIAL, ADD_INDEX, imports=IMPORTS)
    )
    project.ok("migrate")
    remove = f'migrations.RemoveIndex("Contact", "{INDEX}", concurrently=True)'
    project.write_migration(
        "0003_drop_email_index", migration_source('("contacts", "0002_email_index")', remove)
    )
    url = project.database_url
    with Writer(url):
        process = start_migrate(project)
        try:
            pid = wait_until("the concurrent drop to wait", lambda: waiting_drop(url))
        finally:
            os.kill(process.pid, signal.SIGKILL)
            process.communicate(timeout=SAFETY)
        assert waiting_drop(url) == pid
        if outcome == "cancelled":
            fetch(url, "SELECT pg_cancel_backend($1)", pid)
    wait_until("the orphaned drop to end", lambda: backend_gone(url, pid))
    left = index_row(url, INDEX)
    if outcome == "finished":
        assert left is None
    else:  # DROP INDEX CONCURRENTLY marks the index INVALID before it waits
        assert left is not None and not left["indisvalid"]
    project.ok("migrate")
    assert project.recorded() == ["0001_initial", "0002_email_index", "0003_drop_email_index"]
    assert index_row(url, INDEX) is None


COVERING = (
    'migrations.AddIndex("Contact", fields.Index(fields=("email",), include=("name",), '
    f'condition="email <> \'\'", name="{INDEX}"), concurrently=True)'
)


@pytest.mark.parametrize(
    ("existing", "kept"),
    [
        pytest.param('("email") INCLUDE ("name") WHERE email <> \'\'', True, id="same"),
        pytest.param('("email") INCLUDE ("name") WHERE email <> \'x\'', False, id="predicate"),
        pytest.param("(\"email\") WHERE email <> ''", False, id="include"),
        pytest.param("USING hash (\"email\") WHERE email <> ''", False, id="method"),
    ],
)
def test_existing_valid_index_is_compared_in_full(
    project: CliProject, existing: str, kept: bool
) -> None:
    # What the server leaves when it finishes the build of a killed run, made directly.
    project.write_migration("0002_covering", migration_source(INITIAL, COVERING, imports=IMPORTS))
    fetch(project.database_url, f'CREATE INDEX "{INDEX}" ON "contact" {existing}')
    before = index_row(project.database_url, INDEX)
    assert before is not None
    result = project.run("migrate")
    if kept:
        assert result.returncode == 0 and "kept" in result.stderr, show(result)
        assert project.recorded() == ["0001_initial", "0002_covering"]
    else:
        assert_error(result, FAILED, INDEX, "different definition")
        assert project.recorded() == ["0001_initial"]
    assert index_row(project.database_url, INDEX) == before
