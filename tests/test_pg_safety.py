"""Safe-by-default migrations on a real PostgreSQL database: CREATE INDEX CONCURRENTLY (under a
concurrent writer, and failing without leaving an INVALID index), NOT VALID + VALIDATE for CHECKs
and foreign keys, lock_timeout with retries, and ``safe_defaults`` in makemigrations.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import threading
import time
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import require_postgres
from tests.harness import Backend, Project
from tests.scenarios import ID, model, models
from tortoise_march_ext import commands, migrations
from tortoise_march_ext.exceptions import MigrationFailed, MigrationFileError
from tortoise_march_ext.files.writer import render_migration
from tortoise_march_ext.schema import fields

NAME = "name = fields.CharField(max_length=50)"
PERSON = model("Person", f"{ID}\n{NAME}\nage = fields.IntField(null=True)")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    require_postgres()
    backend = Backend("postgres", tmp_path)
    proj = Project(tmp_path, backend)
    proj.write_models({"app": models(PERSON)})
    proj.makemigrations()
    proj.migrate()
    backend.execute(
        proj.url, "INSERT INTO person (name, age) SELECT 'p' || g, g FROM generate_series(1, 500) g"
    )
    yield proj
    backend.cleanup()


def write(project: Project, name: str, *ops: migrations.Operation, **attrs: object) -> Path:
    """Write migration ``name`` after the current leaf, with class attributes ``attrs``."""
    names = sorted(p.stem for p in (project.migrations / "app").glob("0*.py"))
    source = render_migration(f"{name}.", [("app", names[-1])], list(ops))
    if attrs:
        lines = "".join(f"    {k} = {v!r}\n" for k, v in attrs.items())
        source = source.replace("    dependencies = ", lines + "\n    dependencies = ", 1)
    path = project.migrations / "app" / f"{name}.py"
    path.write_text(source)
    return path


def one(project: Project, sql: str) -> object:
    rows = project.backend.execute(project.url, sql)
    return rows[0][0] if rows else None


def recorded(project: Project) -> list[str]:
    rows = project.backend.execute(project.url, "SELECT name FROM tortoise_march_migrations")
    return sorted(r[0] for r in rows)


def invalid_indexes(project: Project) -> list[str]:
    rows = project.backend.execute(
        project.url,
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE NOT i.indisvalid",
    )
    return [r[0] for r in rows]


AGE_INDEXED = model(
    "Person",
    f"{ID}\n{NAME}\nage = fields.IntField(null=True)",
    "indexes = (Index(fields=('age',)),)",
)
DEADLINE = 30.0  # a safety net: a step that hangs fails the test instead of hanging it


async def wait_for_build(observer: asyncpg.Connection, migration: asyncio.Future[object]) -> int:
    """Return the pid of the session building an index in the database, once it shows it."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        pid = await observer.fetchval(
            "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND pid <> pg_backend_pid() "
            "AND query ILIKE 'CREATE %INDEX%' AND datname = current_database()"
        )
        if pid is not None:
            return int(pid)
        if migration.done():
            raise AssertionError(
                f"the migration ended before its index build was seen: {migration}"
            )
        await asyncio.sleep(0.01)
    raise AssertionError(f"no index build seen in pg_stat_activity within {DEADLINE}s")


async def build_progress(observer: asyncpg.Connection, pid: int) -> tuple[object, ...] | None:
    """Return (command, phase) of the index build of ``pid`` once past its first phase."""
    deadline = time.monotonic() + DEADLINE
    row = None
    while time.monotonic() < deadline:
        row = await observer.fetchrow(
            "SELECT command, phase FROM pg_stat_progress_create_index WHERE pid = $1", pid
        )
        if row is not None and row["phase"] != "initializing":
            break
        await asyncio.sleep(0.01)
    return None if row is None else tuple(row)


async def write_during_the_build(project: Project) -> dict[str, object]:
    """Run migrate; while its index build runs, commit a write; return what was seen."""
    holder, writer, observer = [await asyncpg.connect(project.url) for _ in range(3)]
    # A transaction that wrote to the table keeps the concurrent build waiting (its first phase
    # waits for such writers) until it ends: the build is running for as long as the test wants.
    held = holder.transaction()
    await held.start()
    await holder.execute("INSERT INTO person (name, age) VALUES ('holder', 2)")
    migration = asyncio.ensure_future(asyncio.to_thread(project.migrate))
    seen: dict[str, object] = {}
    try:
        build = await wait_for_build(observer, migration)
        await writer.execute(f"SET lock_timeout = '{DEADLINE / 3}s'")
        try:
            await writer.execute("INSERT INTO person (name, age) VALUES ('during', 3)")
        except asyncpg.LockNotAvailableError as exc:
            raise AssertionError(f"the write waited for the index build: {exc}") from None
        seen["build running after the write"] = await observer.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = $1 AND state = 'active' "
            "AND query ILIKE 'CREATE %INDEX%'",
            build,
        )
        seen["progress"] = await build_progress(observer, build)
    finally:
        await held.rollback()
        seen["result"] = await asyncio.wait_for(migration, DEADLINE)
        for conn in (holder, writer, observer):
            await conn.close()
    return seen


def test_concurrent_index_build_lets_writes_commit_while_it_runs(project: Project) -> None:
    project.write_models({"app": models(AGE_INDEXED)})
    index = fields.Index(fields=("age",))
    write(
        project,
        "0002_age_index",
        migrations.AddIndex("Person", index, concurrently=True),
        atomic=False,
    )
    seen = asyncio.run(write_during_the_build(project))
    assert seen["progress"] == ("CREATE INDEX CONCURRENTLY", "waiting for writers before build")
    assert seen["build running after the write"] == 1
    result = seen["result"]
    assert isinstance(result, commands.MigrateResult)
    assert [s.migration.name for s in result.steps] == ["0002_age_index"]
    assert one(project, "SELECT count(*) FROM person WHERE name = 'during'") == 1
    assert one(project, "SELECT count(*) FROM pg_indexes WHERE tablename = 'person'") == 2
    assert invalid_indexes(project) == []
    assert project.schema() == project.reference_schema()
    # Backwards drops it concurrently too.
    project.migrate("app", "0001")
    assert one(project, "SELECT count(*) FROM pg_indexes WHERE tablename = 'person'") == 1


def test_failed_concurrent_index_leaves_no_invalid_index(project: Project) -> None:
    # age = 1 makes the expression divide by zero half way through the build.
    bad = fields.Index(expressions=("(100 / (age - 1))",), name="idx_bad")
    write(project, "0002_bad_index", migrations.AddIndex("Person", bad, concurrently=True))
    with pytest.raises(MigrationFailed, match="division by zero"):
        project.migrate()
    assert invalid_indexes(project) == []
    assert recorded(project) == ["0001_initial"]
    project.backend.execute(project.url, "DELETE FROM person WHERE age = 1")
    project.migrate()
    assert one(project, "SELECT count(*) FROM pg_indexes WHERE indexname = 'idx_bad'") == 1
    assert invalid_indexes(project) == []


def test_an_invalid_leftover_of_the_same_index_is_dropped_and_rebuilt(project: Project) -> None:
    # A concurrent unique build that fails on duplicates leaves its INVALID index behind, as a
    # crashed or killed build does.
    project.backend.execute(project.url, "INSERT INTO person (name, age) VALUES ('twin', 7)")
    with pytest.raises(asyncpg.UniqueViolationError):
        project.backend.execute(
            project.url, 'CREATE UNIQUE INDEX CONCURRENTLY "idx_age" ON "person" ("age")'
        )
    assert invalid_indexes(project) == ["idx_age"]
    index = fields.Index(fields=("age",), name="idx_age")
    write(project, "0002_age", migrations.AddIndex("Person", index, concurrently=True))
    project.migrate()
    assert invalid_indexes(project) == []
    assert (
        one(project, "SELECT indexdef FROM pg_indexes WHERE indexname = 'idx_age'")
        == "CREATE INDEX idx_age ON public.person USING btree (age)"
    )
    assert recorded(project) == ["0001_initial", "0002_age"]


def test_check_added_not_valid_then_validated(project: Project) -> None:
    project.backend.execute(project.url, "INSERT INTO person (name, age) VALUES ('neg', -1)")
    check = fields.CheckConstraint(check="age >= 0", name="age_positive")
    write(project, "0002_check", migrations.AddConstraint("Person", check, not_valid=True))
    write(project, "0003_validate", migrations.ValidateConstraint("Person", name="age_positive"))
    with pytest.raises(MigrationFailed, match="0003_validate.*violated"):
        project.migrate()
    assert recorded(project) == ["0001_initial", "0002_check"]
    assert (
        one(project, "SELECT convalidated FROM pg_constraint WHERE conname = 'age_positive'")
        is False
    )
    project.backend.execute(project.url, "DELETE FROM person WHERE age < 0")
    project.migrate()
    assert (
        one(project, "SELECT convalidated FROM pg_constraint WHERE conname = 'age_positive'")
        is True
    )


def test_foreign_key_added_not_valid_then_validated(project: Project) -> None:
    pet = model("Pet", f"{ID}")
    project.write_models({"app": models(PERSON, pet)})
    project.makemigrations()
    project.migrate()
    project.backend.execute(project.url, "INSERT INTO pet (id) VALUES (1), (2)")
    fk = fields.ForeignKeyField("app.Person", null=True)
    write(project, "0003_pet_owner", migrations.AddField("Pet", "owner", fk, not_valid=True))
    write(project, "0004_validate", migrations.ValidateConstraint("Pet", field="owner"))
    result = project.migrate("app", "0003")
    assert "NOT VALID" in str(result.steps[0].statements[0][1][-1])
    assert (
        one(project, "SELECT convalidated FROM pg_constraint WHERE conname = 'pet_owner_id_fkey'")
        is False
    )
    project.migrate()
    assert (
        one(project, "SELECT convalidated FROM pg_constraint WHERE conname = 'pet_owner_id_fkey'")
        is True
    )
    project.write_models(
        {
            "app": models(
                PERSON,
                model("Pet", f"{ID}\nowner = fields.ForeignKeyField('app.Person', null=True)"),
            )
        }
    )
    assert project.schema() == project.reference_schema()


class LockHolder:
    """Hold ACCESS EXCLUSIVE on a table from another session until released."""

    def __init__(self, url: str, table: str) -> None:
        self.url, self.table = url, table
        self.locked = threading.Event()
        self.release = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._hold()))

    async def _hold(self) -> None:
        conn = await asyncpg.connect(self.url)
        try:
            async with conn.transaction():
                await conn.execute(f'LOCK TABLE "{self.table}" IN ACCESS EXCLUSIVE MODE')
                self.locked.set()
                while not self.release.is_set():
                    await asyncio.sleep(0.02)
        finally:
            await conn.close()

    def __enter__(self) -> LockHolder:
        self.thread.start()
        assert self.locked.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join()


def test_lock_timeout_fires_and_leaves_nothing_behind(project: Project) -> None:
    add = migrations.AddField("Person", "nick", fields.CharField(max_length=10, null=True))
    write(project, "0002_nick", add, lock_timeout="100ms", lock_retries=1)
    with LockHolder(project.url, "person"), pytest.raises(MigrationFailed, match="lock timeout"):
        project.migrate()
    assert recorded(project) == ["0001_initial"]
    assert (
        one(project, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nick'")
        == 0
    )


class ReleaseOnRetry(logging.Handler):
    """Release a LockHolder once the executor logs that a lock timeout fired (or at a deadline)."""

    def __init__(self, holder: LockHolder) -> None:
        super().__init__(logging.WARNING)
        self.holder = holder
        self.retries: list[str] = []
        self.safety_net = threading.Timer(DEADLINE, holder.release.set)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "lock timeout" in message:
            self.retries.append(message)
            self.holder.release.set()


def test_lock_timeout_retries_until_the_lock_is_free(project: Project) -> None:
    add = migrations.AddField("Person", "nick", fields.CharField(max_length=10, null=True))
    write(project, "0002_nick", add, lock_timeout="100ms", lock_retries=5)
    holder = LockHolder(project.url, "person")
    # The table stays locked until the first attempt has timed out: only a retry can succeed.
    releaser = ReleaseOnRetry(holder)
    logger = logging.getLogger("tortoise_march_ext")
    logger.addHandler(releaser)
    releaser.safety_net.start()
    try:
        with holder:
            result = project.migrate()
    finally:
        logger.removeHandler(releaser)
        releaser.safety_net.cancel()
    assert releaser.retries, "the migration succeeded without a retry"
    assert "0002_nick" in releaser.retries[0], releaser.retries
    assert [s.migration.name for s in result.steps] == ["0002_nick"]
    assert recorded(project) == ["0001_initial", "0002_nick"]
    assert (
        one(project, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'nick'")
        == 1
    )


def test_config_timeouts_apply_to_every_migration(project: Project) -> None:
    add = migrations.AddField("Person", "nick", fields.CharField(max_length=10, null=True))
    write(project, "0002_nick", add)
    config = dataclasses.replace(project.config, db_lock_timeout="100ms", db_lock_retries=0)
    with LockHolder(project.url, "person"), pytest.raises(MigrationFailed, match="lock timeout"):
        asyncio.run(commands.migrate(config))
    assert recorded(project) == ["0001_initial"]


def test_bad_timeout_in_a_migration_file_is_one_clear_error(project: Project) -> None:
    write(project, "0002_bad", migrations.RunSQL("SELECT 1", "SELECT 1"), lock_timeout="soon")
    with pytest.raises(
        MigrationFileError, match="0002_bad.py: lock_timeout: 'soon' is not a duration"
    ):
        project.migrate()


@pytest.mark.parametrize("retries", [-1, True, 1.5])
def test_bad_lock_retries_in_a_migration_file_is_one_clear_error(
    project: Project, retries: object
) -> None:
    write(project, "0002_neg", migrations.RunSQL("SELECT 1", "SELECT 1"), lock_retries=retries)
    with pytest.raises(
        MigrationFileError, match="0002_neg.py: lock_retries must be a whole number, 0 or more"
    ):
        project.migrate()
    assert recorded(project) == ["0001_initial"]


def test_safe_defaults_write_the_safe_forms(project: Project) -> None:
    pet = model("Pet", f"{ID}")
    project.write_models({"app": models(PERSON, pet)})
    project.makemigrations()
    project.migrate()
    person = model(
        "Person",
        f"{ID}\n{NAME}\nage = fields.IntField(null=True)",
        "indexes = (Index(fields=('age',)),)\n"
        "constraints = (CheckConstraint(check='age >= 0', name='age_positive'),)",
    )
    pet = model("Pet", f"{ID}\nowner = fields.ForeignKeyField('app.Person', null=True)")
    project.write_models({"app": models(person, pet)})
    config = dataclasses.replace(project.config, safe_defaults=True)
    made = asyncio.run(commands.makemigrations(config)).migrations
    described = [[op.describe() for op in m.operations] for m in made]
    assert described == [
        ["Add field owner to Pet", "Add constraint age_positive on Person"],
        ["Add index age on Person"],
        [
            "Validate constraint foreign key owner on Pet",
            "Validate constraint age_positive on Person",
        ],
    ], described
    assert "not_valid=True" in made[0].source
    assert "atomic = False" in made[1].source and "CONCURRENTLY cannot run inside" in made[1].source
    assert "concurrently=True" in made[1].source
    assert project.ruff() == ""
    project.migrate()
    schema = project.schema()
    # generate_schemas() leaves Meta.constraints' checks out; compare without it.
    assert schema["person"]["checks"] == [("age_positive", "age >= 0")]
    schema["person"]["checks"] = []
    assert schema == project.reference_schema()
    assert invalid_indexes(project) == []
    assert not project.makemigrations().changed
