"""``migrate --prune``: delete the recorder rows of migrations whose files were deleted.

Django's ``--prune``, careful about what "deleted" means. A row whose file is not loaded is
pruned only when its file is really gone; it is kept (and said why) when:

- a squash that is still there lists it in ``replaces`` (the row is how the database knows the
  squash is applied);
- its app has no migrations folder at all (``migrations/APP`` or an ``include_locations``
  entry): a wrong ``location``, a removed ``include_locations`` entry or a renamed app, not
  deleted files; create the empty folder if the app's migrations are really all gone;
- its app is not in the Tortoise config (the database may be shared with another project);
- a migration of the same app that is not recorded has the same checksum: the file was renamed.

Everything happens under the migration lock, from the rows read once it is held, and the rows
of one connection go in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import MarchConfig
from ..engine.replacements import replaced_by
from ..project import Project, open_project
from ..runtime.ensure import migration_lock

Key = tuple[str, str]


@dataclass
class PruneResult:
    """The rows ``migrate --prune`` deleted, and those it kept with the reason."""

    pruned: list[Key] = field(default_factory=list)
    kept: list[tuple[Key, str]] = field(default_factory=list)


def _folder(project: Project, app: str) -> Path:
    """Return the folder ``app``'s migrations are loaded from."""
    return project.config.vendored_dirs.get(app, project.config.migrations_dir / app)


def _reason_to_keep(project: Project, key: Key, row: Any, rows: dict[Key, Any]) -> str | None:
    """Return why the row ``key`` (whose file is not loaded) must stay, or None to prune it."""
    app = key[0]
    squash = replaced_by(project.replaces).get(key)
    if squash is not None:
        return (
            f"the squash {squash[1]} lists it in replaces, and the row is how the database tells "
            "that the squash is applied"
        )
    if app not in project.config_apps:
        return f"app {app!r} is not in the Tortoise config (rows of other projects are left alone)"
    folder = _folder(project, app)
    if not folder.is_dir():
        return (
            f"the migrations folder {folder} does not exist: check location and "
            "include_locations (create the folder, empty, if all of its migrations are gone)"
        )
    for other, node in sorted(project.loaded.items()):
        if other[0] == app and other not in rows and node.checksum == row.checksum:
            return f"{node.path.name} has the same code (renamed?): rename it back instead"
    return None


async def prune(config: MarchConfig, app: str | None = None) -> PruneResult:
    """Delete the recorder rows (of ``app``, or of every app) whose migration files were
    deleted; return what was deleted and what was kept, with why."""
    async with open_project(config) as project:
        if app:
            project.check_app(app)
        apps = [app] if app else project.apps
        result = PruneResult()
        async with migration_lock(project, apps, config.lock_timeout) as rows:
            for key in sorted(set(rows) - set(project.loaded)):
                if app and key[0] != app:
                    continue
                reason = _reason_to_keep(project, key, rows[key], rows)
                if reason is None:
                    result.pruned.append(key)
                else:
                    result.kept.append((key, reason))
            await _delete(project, result.pruned)
        return result


async def _delete(project: Project, keys: list[Key]) -> None:
    """Delete the rows ``keys``, one transaction per connection."""
    by_connection: dict[str, list[Key]] = {}
    for key in keys:
        by_connection.setdefault(project.connection_name(key[0]), []).append(key)
    for group in by_connection.values():
        app = group[0][0]
        recorder = project.recorder(app)
        client, editor = project.client(app), project.editor(app)
        async with project.executor()._transaction(client, editor) as tx:
            for key in group:
                await recorder.unrecord(tx, key)
