"""``showmigrations --plan``: every migration in the order ``migrate`` would apply it.

Django's listing: the plan from an empty database to the latest migrations (of APP and what it
needs, or of every app), each with ``[X]`` when the database applied it and the migrations it
depends on. Squashes stand in for what they replace as the database uses them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import MarchConfig
from ..project import open_project

Key = tuple[str, str]


@dataclass
class PlanEntry:
    """One line of ``showmigrations --plan``."""

    app: str
    name: str
    applied: bool
    dependencies: list[Key] = field(default_factory=list)

    @property
    def label(self) -> str:
        """Return ``app.name``."""
        return f"{self.app}.{self.name}"


async def showplan(config: MarchConfig, app: str | None = None) -> list[PlanEntry]:
    """Return the migrations ``migrate`` (or ``migrate APP``) runs from an empty database, in
    that order, with whether each is applied and what it depends on."""
    async with open_project(config) as project:
        if app:
            project.check_app(app)
        done = project.use_applied(await project.applied())
        graph = project.graph
        apps = [app] if app else graph.apps()
        targets = [leaf for each in apps for leaf in graph.leaves(each)]
        return [
            PlanEntry(key[0], key[1], key in done, list(graph.parents[key]))
            for key in graph.topological(targets)
        ]
