"""lint: find operations in the migration files that are unsafe on a busy database.

Reads the migration files; the rules follow the dialect of each app's connection. For MySQL
and MariaDB connections it asks the server its version (one ``SELECT VERSION()``, given up after
:data:`SERVER_TIMEOUT` seconds): whether the server adds a column instantly depends on it. When
the server does not answer, lint assumes an old one and says so in those findings.
"""

from __future__ import annotations

from collections.abc import Iterable

import anyio

from ..backends.mysql_run import server_of
from ..config import MarchConfig
from ..exceptions import ConfigError, GraphError
from ..lint import Finding, LintReport, Target, lint_graph
from ..project import Project, open_project

Key = tuple[str, str]
SERVER_TIMEOUT = 5.0
"""Seconds lint waits for a MySQL/MariaDB server to say its version."""
ASKS_SERVER = frozenset({"mysql"})
"""Dialects whose rules depend on the server's version."""


async def lint(
    config: MarchConfig, app: str | None = None, *, since: str | None = None
) -> LintReport:
    """Lint the migrations of every app, or of ``app``; with ``since`` (a name, a unique prefix
    or ``zero``) only those of ``app`` that are neither ``since`` nor one of its ancestors."""
    if since is not None and app is None:
        raise GraphError("--since needs an app: lint APP --since NAME")
    async with open_project(config, load=False) as project:
        project.load_files()
        keys = selection(project, app, since)
        apps = sorted({k[0] for k in keys} if keys is not None else project.graph.apps())
        found = await targets(project, apps)
        return lint_graph(
            project.graph,
            keys,
            exclude=config.lint_exclude,
            targets=lambda label: found.get(label) or target_of(project, label),
        )


def target_of(project: Project, app: str) -> Target:
    """Return the dialect of ``app``'s connection, without asking the server anything (the
    PostgreSQL rules when the connection is not configured)."""
    try:
        return Target(str(project.client(app).capabilities.dialect))
    except ConfigError:
        return Target()


async def targets(project: Project, apps: Iterable[str]) -> dict[str, Target]:
    """Return each app's :class:`Target`; MySQL servers are asked their version once per
    connection."""
    servers: dict[str, Target] = {}
    out: dict[str, Target] = {}
    for app in apps:
        target = target_of(project, app)
        if target.dialect in ASKS_SERVER:
            name = project.connection_name(app)
            if name not in servers:
                servers[name] = await _ask_server(project, app, target)
            target = servers[name]
        out[app] = target
    return out


async def _ask_server(project: Project, app: str, target: Target) -> Target:
    """Return ``target`` with the server's kind and version, or unchanged when it does not
    answer in time (lint then warns as for the least capable server)."""
    try:
        with anyio.fail_after(SERVER_TIMEOUT):
            server = await server_of(project.client(app))
    except Exception:  # noqa: BLE001 - no answer only means "version unknown"
        return target
    if server.version == (0, 0, 0):
        return target
    return Target(target.dialect, server.mariadb, server.version)


def selection(project: Project, app: str | None, since: str | None) -> list[Key] | None:
    """Return the migrations to lint: None for all; ``app``'s not at or before ``since``."""
    if app is None:
        return None
    project.check_app(app)
    graph = project.graph
    keys = [key for key in graph.topological() if key[0] == app]
    start = graph.resolve(app, since) if since is not None else None
    done = set(graph.topological([start])) if start is not None else set()
    return [key for key in keys if key not in done]


def lint_migration(project: Project, key: Key) -> list[Finding]:
    """Return the findings left in one loaded migration (e.g. the one makemigrations wrote);
    the server is not asked its version."""
    exclude = project.config.lint_exclude
    report = lint_graph(
        project.graph, [key], exclude=exclude, targets=lambda app: target_of(project, app)
    )
    return report.findings
