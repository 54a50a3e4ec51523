"""Other tools' migration histories on a connection: aerich, Tortoise's built-in migrations and
Tortoise March. ``adopt`` reads them (never writes them) to say what they had applied and to
refuse a database whose history still has migrations to apply.

- aerich: table ``aerich`` (id, version, app, content); its files are
  ``<location>/<app>/<n>_<date>_<name>.py`` with ``location`` from ``[tool.aerich]`` in
  pyproject.toml (default ``./migrations``); ``version`` is the file name.
- Tortoise's built-in migrations: table ``tortoise_migrations`` (id, app, name, applied_at); the
  files are the modules of the package named by the app's ``"migrations"`` key in the Tortoise
  config (``tortoise/migrations/loader.py``: non-package modules not starting with ``_``/``~``).
- Tortoise March: table ``tortoisemarch_applied_migrations`` (id, name, applied_at), one history
  per database with no app column; its files are ``NNNN_name.py`` in ``location`` of
  ``[tool.tortoisemarch]`` (pyproject.toml) or ``[tortoisemarch]`` (.tortoisemarch.cfg).
"""

from __future__ import annotations

import configparser
import importlib.util
import pkgutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends import SchemaEditor
from ..exceptions import DatabaseError
from ..introspect import introspect

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

AERICH = "aerich"
BUILTIN = "tortoise_migrations"
TORTOISE_MARCH = "tortoisemarch_applied_migrations"


@dataclass
class ForeignHistory:
    """What one other tool recorded for one app (Tortoise March: for the whole database)."""

    tool: str
    table: str
    app: str | None
    applied: list[str]
    unapplied: list[str] = field(default_factory=list)
    checked: bool = True  # whether the tool's files were found to compare with
    upgrade: str = ""
    drop: str = ""  # the statement that drops the table, quoted by the connection's editor

    @property
    def owner(self) -> str:
        """Return the tool's name in the possessive (``aerich's``, ``... migrations'``)."""
        return self.tool + ("'" if self.tool.endswith("s") else "'s")

    @property
    def where(self) -> str:
        """Return ``for app X`` or ``on connection Y`` (Tortoise March has no app column)."""
        return f"for app {self.app}" if self.app else "for the database"

    def found_line(self) -> str:
        """Return ``found aerich's history for app models: 3 migrations applied, last X``."""
        count = len(self.applied)
        last = f", last {self.applied[-1]}" if self.applied else ""
        line = f"found {self.owner} history {self.where}: {count} migration(s) applied{last}"
        if self.unapplied:
            line += f", {len(self.unapplied)} not applied ({', '.join(self.unapplied)})"
        if not self.checked:
            line += " (its migration files were not found, so unapplied ones cannot be listed)"
        return line

    def refusal(self) -> str:
        """Return the one line refusing a history with unapplied migrations."""
        return (
            f"{self.found_line()}; nothing was written: run `{self.upgrade}` first, "
            "then adopt again, or let adopt write the difference (`adopt --write-difference`: "
            "the initial migration as the database stands, and one adding what the models add)"
        )


def _stem(name: str) -> str:
    return name[:-3] if name.endswith(".py") else name


async def _present(client: Any, editor: SchemaEditor) -> set[str]:
    sql, values = editor.existing_tables([AERICH, BUILTIN, TORTOISE_MARCH])
    _, rows = await client.execute_query(sql, values)
    return {str(r["name"]).lower() for r in rows}


async def _rows(
    client: Any, editor: SchemaEditor, table: str, columns: list[str], live: dict[str, Any]
) -> list[Any]:
    """Return the rows of another tool's table, after checking it has that tool's columns
    (SQLite would read a missing double-quoted column as a string, and hide the mismatch)."""
    found = set(live.get(table, {}).get("columns", {}))
    missing = [c for c in ["id", *columns] if c not in found]
    if missing:
        raise DatabaseError(
            f"table {table} looks like another tool's migration history but could not be read "
            f"as one: it lacks column(s) {', '.join(missing)}; rename it if it is a table of "
            "yours, then run adopt again; nothing was written"
        )
    listed = ", ".join(editor.quote(c) for c in columns)
    sql = f"SELECT {listed} FROM {editor.quote(table)} ORDER BY {editor.quote('id')}"
    _, rows = await client.execute_query(sql, [])
    return list(rows)


def _toml_section(root: Path, name: str) -> dict[str, Any] | None:
    path = root / "pyproject.toml"
    if not path.is_file():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeError, tomllib.TOMLDecodeError):
        return None
    section = data.get("tool", {}).get(name)
    return section if isinstance(section, dict) else None


def aerich_folder(root: Path, app: str) -> Path:
    """Return the folder of aerich's migrations of ``app``, read as aerich reads it:
    ``location`` of ``[tool.aerich]``, else of ``[tool.tortoise]`` (what aerich writes with
    tortoise-orm 1.x), default ./migrations; ``{app}`` in it stands for the app, otherwise the
    app's files are in a subfolder named after it."""
    section = _toml_section(root, "aerich") or _toml_section(root, "tortoise") or {}
    location = str(section.get("location", "./migrations"))
    path = Path(location.replace("{app}", app)) if "{app}" in location else Path(location, app)
    return path if path.is_absolute() else root / path


def _tortoise_march_folder(root: Path) -> Path | None:
    section = _toml_section(root, "tortoisemarch")
    location = section.get("location") if section else None
    cfg = root / ".tortoisemarch.cfg"
    if location is None and cfg.is_file():
        parser = configparser.ConfigParser()
        try:
            parser.read(cfg, encoding="utf-8")
            location = parser.get("tortoisemarch", "location", fallback=None)
        except (configparser.Error, UnicodeError):
            location = None
    if location is None:
        return None
    path = Path(str(location))
    return path if path.is_absolute() else root / path


def _files(folder: Path | None) -> list[str] | None:
    if folder is None or not folder.is_dir():
        return None
    return sorted(
        p.stem for p in folder.iterdir() if p.suffix == ".py" and not p.name.startswith(("_", "."))
    )


def _builtin_files(module: str | None) -> list[str] | None:
    """Return the migration modules of the built-in's package, found without importing them."""
    if not module:
        return None
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return sorted(
        name
        for _, name, is_pkg in pkgutil.iter_modules(list(spec.submodule_search_locations))
        if not is_pkg and name[0] not in "_~"
    )


def _history(
    editor: SchemaEditor,
    tool: str,
    table: str,
    app: str | None,
    applied: list[str],
    files: list[str] | None,
    up: str,
) -> ForeignHistory:
    history = ForeignHistory(tool, table, app, applied, upgrade=up, checked=files is not None)
    history.drop = f"DROP TABLE {editor.quote(table)};"
    done = set(applied)
    history.unapplied = [name for name in files or [] if name not in done]
    return history


async def find_histories(
    client: Any,
    editor: SchemaEditor,
    apps: list[str],
    root: Path,
    tortoise_apps: dict[str, Any],
    config_path: str | None = None,
) -> list[ForeignHistory]:
    """Return the other tools' histories of ``apps`` on one connection (``tortoise_apps``: the
    Tortoise config's apps, for the built-in's ``migrations`` module; ``config_path``: its dotted
    path, for the command that applies the built-in's migrations)."""
    present = await _present(client, editor)
    found: list[ForeignHistory] = []
    if not present:
        return found
    live = await introspect(client)
    if AERICH in present:
        rows = await _rows(client, editor, AERICH, ["version", "app"], live)
        for app in apps:
            applied = [_stem(str(r["version"])) for r in rows if r["app"] == app]
            if applied:
                files = _files(aerich_folder(root, app))
                found.append(
                    _history(editor, "aerich", AERICH, app, applied, files, "aerich upgrade")
                )
    if BUILTIN in present:
        rows = await _rows(client, editor, BUILTIN, ["app", "name"], live)
        for app in apps:
            applied = [str(r["name"]) for r in rows if r["app"] == app]
            if applied:
                module = (tortoise_apps.get(app) or {}).get("migrations")
                files = _builtin_files(module)
                tool = "Tortoise's built-in migrations"
                up = f"tortoise -c {config_path} migrate" if config_path else "tortoise migrate"
                found.append(_history(editor, tool, BUILTIN, app, applied, files, up))
    if TORTOISE_MARCH in present:
        rows = await _rows(client, editor, TORTOISE_MARCH, ["name"], live)
        applied = [str(r["name"]) for r in rows]
        if applied:
            files = _files(_tortoise_march_folder(root))
            up = "tortoisemarch migrate"
            found.append(
                _history(editor, "Tortoise March", TORTOISE_MARCH, None, applied, files, up)
            )
    return found
