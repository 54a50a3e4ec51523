"""The pytest plugin: migrated test databases (``march_db``) and four ready checks.

Enable it with ``pytest_plugins = ["tortoise_march_ext.pytest"]`` in the root conftest.py, with
``-p tortoise_march_ext.pytest``, or with ``tortoise_march_ext = true`` in pytest's ini options.
``from tortoise_march_ext.pytest import *`` in a test module adds the four checks to it.

The session migrates its database once (per pytest-xdist worker); each test that asks for
``march_db`` gets it fresh (SQLite: a file copy; PostgreSQL and MySQL: the work database reset
after each test; PostgreSQL with ``TORTOISE_MARCH_TEST_DB=template``: a TEMPLATE copy), with
Tortoise initialised on it and its connections closed after the test.
Database work runs on a background event loop, so ``march_db`` serves sync tests (through
:meth:`MarchDatabase.run`), anyio tests and pytest-asyncio tests alike.
"""

from __future__ import annotations

import functools
import inspect
import shutil
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from tortoise import Tortoise, connections
from tortoise.warnings import TortoiseLoopSwitchWarning

from ..config import MarchConfig, load_config
from ..exceptions import MarchError
from ..project import drift_check_suppressed
from . import checks
from .databases import (
    Runner,
    Server,
    march_config_for,
    postgres_mode,
    targets,
    temporary_folder,
    tortoise_config_for,
)

__all__ = [
    "test_migrations_up_down_up",
    "test_no_missing_migrations",
    "test_schema_matches_migrations",
    "test_single_leaf_per_app",
]

T = TypeVar("T")


class MarchDatabases:
    """The session's test databases: the migrated template and the copies handed out."""

    def __init__(self, config: MarchConfig) -> None:
        self.config = config
        self.mode = postgres_mode()  # checked on every backend: a typo is never ignored
        self.folder = temporary_folder()
        self.targets = targets(config, self.folder)
        self.runner = Runner()
        self.servers = {name: Server(t) for name, t in self.targets.items()}
        self.count = 0
        self.migrated = False
        self._tortoise: Any = None  # our TortoiseContext, kept while tests use the same names
        self._tortoise_names: dict[str, str] = {}

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the session's background loop."""
        return self.runner.run(coro)

    def march_config(self, databases: dict[str, str]) -> MarchConfig:
        """Return the project config with its connections on ``databases``."""
        tortoise = tortoise_config_for(self.config, databases, self.targets)
        return march_config_for(self.config, tortoise)

    def template(self) -> dict[str, str]:
        """Return the template databases, created and migrated at the first call."""
        names = {name: t.name for name, t in self.targets.items()}
        if not self.migrated:
            self.run(self._migrate_template(names))
            self.migrated = True
        return names

    async def _migrate_template(self, names: dict[str, str]) -> None:
        from ..commands.migrate import migrate

        for name, server in self.servers.items():
            await server.create_empty(names[name])
        await migrate(self.march_config(names))
        for server in self.servers.values():
            if server.resets:
                await server.snapshot()

    def new_copy(self) -> dict[str, str]:
        """Return fresh databases migrated to the latest migrations (copies of the template, or
        the work database, reset after the test)."""
        self.template()
        self.count += 1
        names: dict[str, str] = {}
        for name, server in self.servers.items():
            if server.resets:
                names[name] = server.target.name
            else:
                names[name] = server.target.copy_name(self.count)
                self.run(server.copy(names[name]))
        return names

    def release(self, names: dict[str, str]) -> None:
        """Drop the copies made by :meth:`new_copy` (or reset the work database)."""
        for name, server in self.servers.items():
            if server.resets:
                self.run(server.reset())
            else:
                self.run(server.drop(names[name]))

    def empty(self, label: str) -> dict[str, str]:
        """Return new empty databases (dropped at session end), one per connection."""
        names = {name: f"{t.name}_{label}" for name, t in self.targets.items()}
        for name, t in self.targets.items():
            if t.dialect == "sqlite":
                names[name] = str(self.folder / f"{label}.sqlite3")
            self.run(self.servers[name].create_empty(names[name]))
        return names

    @property
    def shared(self) -> bool:
        """Return whether every test uses the same databases (all of them reset, none copied):
        Tortoise then stays initialised between tests, with its connections closed."""
        return all(server.resets for server in self.servers.values())

    async def open_tortoise(self, db: MarchDatabase) -> None:
        """Initialise Tortoise on ``db``'s databases (opening no connection: Tortoise connects
        on the first query), unless it still is from the last test."""
        from tortoise.context import get_current_context

        ours = self._tortoise is not None and get_current_context() is self._tortoise
        if ours and self._tortoise_names == db.names:
            return
        await self.close_tortoise(keep=False)
        with drift_check_suppressed():
            self._tortoise = await Tortoise.init(
                config=db.tortoise_config, _enable_global_fallback=True
            )
        self._tortoise_names = dict(db.names)

    async def close_tortoise(self, *, keep: bool) -> None:
        """Close the connections of our Tortoise; with ``keep`` false, also reset it."""
        from tortoise.context import get_current_context

        if self._tortoise is None or get_current_context() is not self._tortoise:
            self._tortoise = None
            return
        # An async test's connections were closed on its own loop (pytest_runtest_call);
        # Tortoise swaps those clients for new ones here, with a warning.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", TortoiseLoopSwitchWarning)
            if keep:
                await connections.close_all(discard=True)
                return
            await Tortoise.close_connections()
        await Tortoise._reset_apps()
        self._tortoise = None

    def close(self) -> None:
        """Drop every database the session made and stop the background loop."""
        try:
            self.run(self.close_tortoise(keep=False))
            for server in self.servers.values():
                self.run(server.close())
        finally:
            self.runner.close()
            shutil.rmtree(self.folder, ignore_errors=True)


class MarchDatabase:
    """What ``march_db`` hands a test: its databases, with Tortoise initialised on them."""

    def __init__(self, session: MarchDatabases, names: dict[str, str]) -> None:
        self.session = session
        self.names = names
        self.config = session.march_config(names)
        self.tortoise_config: dict[str, Any] = self.config.tortoise_config or {}

    def run(self, awaitable: Awaitable[T]) -> T:
        """Await ``awaitable`` (a coroutine, a Tortoise query) from a sync test, on the
        plugin's event loop, and return its result."""

        async def wait() -> T:
            return await awaitable

        return self.session.run(wait())


def _fail(lines: list[str]) -> None:
    if lines:
        pytest.fail("\n".join(lines), pytrace=False)


def _guarded(call: Callable[[], T]) -> T:
    """Return ``call()``; a MarchError (bad config, bad migration file) fails the test in one
    line instead of a traceback."""
    try:
        return call()
    except MarchError as exc:
        pytest.fail(f"{type(exc).__name__}: {exc}", pytrace=False)


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def march_config(request: pytest.FixtureRequest) -> MarchConfig:
    """The project's ``[tool.tortoise_march_ext]`` config, found from pytest's root folder."""
    return _guarded(lambda: load_config(cwd=request.config.rootpath))


@pytest.fixture(scope="session")
def march_databases(march_config: MarchConfig) -> Iterator[MarchDatabases]:
    """The session's test databases; everything it made is dropped at the end."""
    databases = _guarded(lambda: MarchDatabases(march_config))
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def march_db(march_databases: MarchDatabases) -> Iterator[MarchDatabase]:
    """A database migrated to the latest migrations for this test, Tortoise initialised on it."""
    names = _guarded(march_databases.new_copy)
    db = MarchDatabase(march_databases, names)
    try:
        march_databases.run(march_databases.open_tortoise(db))
        yield db
    finally:
        try:
            march_databases.run(march_databases.close_tortoise(keep=march_databases.shared))
        finally:
            march_databases.release(names)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    """Close an async test's connections on its own event loop, at the end of the test body
    (connections open lazily on the loop of the first query and cannot be closed from
    another)."""
    function = getattr(item, "obj", None)
    if "march_db" not in getattr(item, "fixturenames", ()) or function is None:
        return
    if not inspect.iscoroutinefunction(function) or getattr(function, "_march_wrapped", False):
        return

    @functools.wraps(function)
    async def closing(*args: Any, **kwargs: Any) -> Any:
        try:
            return await function(*args, **kwargs)
        finally:
            await connections.close_all(discard=True)

    closing._march_wrapped = True  # type: ignore[attr-defined]
    item.obj = closing  # type: ignore[attr-defined]


# -- the ready checks ----------------------------------------------------------------------------
def test_no_missing_migrations(march_databases: MarchDatabases) -> None:
    """The models match the migration files (else: run makemigrations)."""
    names = {name: target.name for name, target in march_databases.targets.items()}
    config = march_databases.march_config(names)  # no database is opened: files and models only
    _fail(_guarded(lambda: march_databases.run(checks.missing_migrations(config))))


def test_single_leaf_per_app(march_config: MarchConfig) -> None:
    """Every app's history has one latest migration (else: makemigrations --merge)."""
    _fail(_guarded(lambda: checks.several_leaves(march_config)))


def test_migrations_up_down_up(march_databases: MarchDatabases) -> None:
    """Each migration applies, unapplies and applies again, one at a time, on an empty
    database; irreversible ones are only applied, and named in a warning."""
    config = march_databases.march_config(march_databases.empty("stairway"))
    lines, skipped = _guarded(lambda: march_databases.run(checks.stairway(config)))
    if skipped:
        warnings.warn(
            "test_migrations_up_down_up: irreversible migration(s) not unapplied: "
            + ", ".join(skipped),
            pytest.PytestWarning,
            stacklevel=1,
        )
    _fail(lines)


def test_schema_matches_migrations(march_databases: MarchDatabases) -> None:
    """The migrated database holds what the migrations' state says (``check --schema``)."""
    names = march_databases.new_copy()
    try:
        config = march_databases.march_config(names)
        _fail(_guarded(lambda: march_databases.run(checks.schema_mismatches(config))))
    finally:
        march_databases.release(names)
