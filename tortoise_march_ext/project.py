"""A Project: the Tortoise config, the tracked model state, the migration files and connections.

Opening a project initialises Tortoise (which connects lazily, so commands that need no database
never open one) and closes the connections it opened on exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from tortoise import Tortoise

from .backends import SchemaEditor, editor_for
from .config import MarchConfig
from .engine.executor import Executor, Timeouts
from .engine.graph import MigrationGraph
from .engine.recorder import Recorder
from .engine.replacements import graph_in_use
from .exceptions import ConfigError
from .files.loader import LoadedMigration, load_migrations
from .schema.extract import extract_state
from .schema.state import ProjectState

Key = tuple[str, str]


@dataclass
class Project:
    """Everything a command needs, loaded once."""

    config: MarchConfig
    tortoise_config: dict[str, Any]
    models: ProjectState
    loaded: dict[Key, LoadedMigration]
    graph: MigrationGraph
    _recorders: dict[str, Recorder] = field(default_factory=dict)

    @property
    def config_apps(self) -> list[str]:
        """Return the app labels in the Tortoise config (or the initialised Tortoise apps)."""
        return list(self.tortoise_config.get("apps", {})) or list(tortoise_apps())

    @property
    def apps(self) -> list[str]:
        """Return the apps that have tracked models or migrations, sorted."""
        return sorted(set(self.models.apps) | set(self.graph.apps()))

    def check_app(self, app: str) -> None:
        """Raise ConfigError for an app the project does not know."""
        if app not in self.config_apps and app not in self.graph.apps():
            known = ", ".join(self.config_apps) or "none"
            raise ConfigError(f"unknown app {app!r}; apps in the Tortoise config: {known}")

    def connection_name(self, app: str) -> str:
        """Return the Tortoise connection name ``app`` uses (config first, then its models)."""
        app_config = self.tortoise_config.get("apps", {}).get(app)
        if app_config is not None:
            return str(app_config.get("default_connection", "default"))
        for model in tortoise_apps().get(app, {}).values():
            if model._meta.default_connection:
                return str(model._meta.default_connection)
        return "default"

    def client(self, app: str) -> Any:
        """Return the Tortoise client of ``app``'s connection."""
        name = self.connection_name(app)
        try:
            return Tortoise.get_connection(name)
        except Exception as exc:
            raise ConfigError(
                f"app {app!r} uses connection {name!r}, which is not configured"
            ) from exc

    def editor(self, app: str) -> SchemaEditor:
        """Return the schema editor of ``app``'s backend."""
        editor = editor_for(self.client(app).capabilities.dialect)
        editor.configure(self.config)
        return editor

    def recorder(self, app: str) -> Recorder:
        """Return the recorder of ``app``'s connection (one per connection)."""
        name = self.connection_name(app)
        if name not in self._recorders:
            self._recorders[name] = Recorder(self.client(app), self.editor(app), name)
        return self._recorders[name]

    def load_files(self) -> None:
        """Import the migration files and build the graph (squashes in use, as on a fresh
        database, until :meth:`use_applied` says what the database applied)."""
        self.loaded = load_migrations(self.config.migrations_dir, None, self.config.vendored_dirs)
        self.use_applied(())

    def is_vendored(self, app: str) -> bool:
        """Return whether ``app``'s migrations come from a library (``include_locations``)."""
        return app in self.config.vendored_dirs

    @property
    def replaces(self) -> dict[Key, list[Key]]:
        """Return each squashed migration's replaced migrations."""
        return {k: m.replaces for k, m in self.loaded.items() if m.replaces}

    def use_applied(self, applied: Iterable[Key]) -> set[Key]:
        """Rebuild the graph for a database that applied ``applied``; return the applied set
        with the squashes that count as applied added."""
        self.graph, done = graph_in_use(self.loaded, applied)
        return done

    def executor(self) -> Executor:
        """Return an executor bound to this project's connections."""
        timeouts = Timeouts(
            self.config.db_lock_timeout,
            self.config.db_statement_timeout,
            self.config.db_lock_retries,
        )
        return Executor(
            self.graph, self.editor, self.client, self.recorder, self.connection_name, timeouts
        )

    async def applied(self, apps: Iterable[str] | None = None) -> dict[Key, Any]:
        """Return the recorder rows of every connection, for the apps that live on it."""
        rows: dict[Key, Any] = {}
        seen: set[str] = set()
        for app in self.apps if apps is None else apps:
            name = self.connection_name(app)
            if name in seen:
                continue
            seen.add(name)
            for key, row in (await self.recorder(app).applied()).items():
                if self.connection_name(key[0]) == name:
                    rows[key] = row
        return rows


async def _init_tortoise(tortoise_config: dict[str, Any]) -> None:
    try:
        await Tortoise.init(config=tortoise_config)
    except Exception as exc:
        raise ConfigError(
            f"Tortoise.init failed with this config: {type(exc).__name__}: {exc}"
        ) from exc


def tortoise_apps() -> dict[str, dict[str, Any]]:
    """Return the initialised Tortoise apps ({app: {name: model}}), empty before init."""
    apps = Tortoise.apps
    return dict(apps.apps) if apps is not None else {}


@asynccontextmanager
async def open_project(
    config: MarchConfig, *, init: bool = True, load: bool = True
) -> AsyncIterator[Project]:
    """Load the project; initialise Tortoise unless the caller already did (``init=False``).

    With ``init=False`` the running application's Tortoise apps and connections are used and
    left open; the Tortoise config dict is then optional. With ``load=False`` neither the models
    nor the migration files are read until :meth:`Project.load_files` is called.
    """
    if init:
        tortoise_config = config.load_tortoise_config()
        with drift_check_suppressed():
            await _init_tortoise(tortoise_config)
    else:
        if Tortoise.apps is None:
            raise ConfigError(
                "Tortoise is not initialised: call Tortoise.init (or RegisterTortoise) first, "
                "or use march.lifespan() which does both"
            )
        tortoise_config = config.tortoise_config or {}
    try:
        if load:
            yield load_project(config, tortoise_config)
        else:
            yield Project(config, tortoise_config, ProjectState(), {}, MigrationGraph({}, {}))
    finally:
        if init:
            await Tortoise.close_connections()
            await Tortoise._reset_apps()


def load_project(config: MarchConfig, tortoise_config: dict[str, Any]) -> Project:
    """Return the Project of the initialised Tortoise apps and the migration files."""
    models = extract_state(tortoise_apps(), track=config.track)
    project = Project(config, tortoise_config, models, {}, MigrationGraph({}, {}))
    check_vendored_apps(project)
    project.load_files()
    return project


def check_vendored_apps(project: Project) -> None:
    """Raise ConfigError for an ``include_locations`` label that is no Tortoise app: the label
    is the app label, which says which connection its migrations run on."""
    known = project.config_apps
    for label in sorted(project.config.vendored_dirs):
        if label not in known:
            raise ConfigError(
                f"include_locations label {label!r} is not an app in the Tortoise config "
                f"(apps: {', '.join(known) or 'none'}); use the vendored app's Tortoise app label"
            )


_suppressed: ContextVar[bool] = ContextVar("march_drift_suppressed", default=False)


@contextmanager
def drift_check_suppressed() -> Iterator[None]:
    """Skip the Tortoise.init drift check inside this block (our own commands init Tortoise)."""
    token = _suppressed.set(True)
    try:
        yield
    finally:
        _suppressed.reset(token)


def drift_check_is_suppressed() -> bool:
    """Return whether the drift check is suppressed in this context."""
    return _suppressed.get()
