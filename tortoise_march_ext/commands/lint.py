"""lint: find operations in the migration files that are unsafe on a busy PostgreSQL database.

Reads only the migration files; never connects to the database.
"""

from __future__ import annotations

from ..config import MarchConfig
from ..exceptions import GraphError
from ..lint import Finding, LintReport, lint_graph
from ..project import Project, open_project

Key = tuple[str, str]


async def lint(
    config: MarchConfig, app: str | None = None, *, since: str | None = None
) -> LintReport:
    """Lint the migrations of every app, or of ``app``; with ``since`` (a name, a unique prefix
    or ``zero``) only those of ``app`` that are neither ``since`` nor one of its ancestors."""
    if since is not None and app is None:
        raise GraphError("--since needs an app: lint APP --since NAME")
    async with open_project(config, load=False) as project:
        project.load_files()
        return lint_graph(
            project.graph, selection(project, app, since), exclude=config.lint_exclude
        )


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
    """Return the findings left in one loaded migration (e.g. the one makemigrations wrote)."""
    return lint_graph(project.graph, [key], exclude=project.config.lint_exclude).findings
