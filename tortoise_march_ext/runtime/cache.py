"""A cache of what the migration files say, so app start-up need not import and replay them.

Keyed by the library version and the SHA-256 of every migration file's bytes; stored under
``<location>/.march_cache/history.json`` (with its own ``.gitignore``). The file is one header
line (``tortoise-march-ext-state-cache <format> sha256=<digest of the payload>``) and a JSON
payload of plain data (:mod:`..schema.plain`): reading it never imports or runs anything. It is
never a source of truth: a missing, stale, damaged or foreign cache is a miss, replayed from the
files (a damaged one says so in one log line), and deleting it is always safe. A cache that
cannot be written is logged once per folder and process.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._version import __version__
from ..engine.executor import replay
from ..engine.replacements import graph_in_use
from ..files.loader import load_migrations, migration_files
from ..schema.plain import PlainError, state_from_plain, state_to_plain
from ..schema.state import ProjectState

Key = tuple[str, str]
CACHE_DIR = ".march_cache"
CACHE_FILE = "history.json"
LEGACY_FILE = "history.pickle"  # the pickle of earlier releases: never read, removed on write
MAGIC = "tortoise-march-ext-state-cache"
CACHE_FORMAT = 4
logger = logging.getLogger("tortoise_march_ext")
_write_failures: set[Path] = set()


class _Stale(Exception):
    """A well-formed cache of other migration files: a miss that needs no log line."""


@dataclass
class History:
    """The migration files reduced to what start-up needs."""

    key: str
    dependencies: dict[Key, list[Key]]
    checksums: dict[Key, str]
    state: ProjectState
    replaces: dict[Key, list[Key]]

    @property
    def nodes(self) -> set[Key]:
        """Return every migration."""
        return set(self.dependencies)


def history_key(location: Path, vendored: Mapping[str, Path] | None = None) -> str:
    """Return the cache key of the migration files under ``location`` and of the vendored
    apps (label -> folder)."""
    digest = hashlib.sha256(f"{__version__} history {CACHE_FORMAT}".encode())
    folders: list[tuple[str, Path]] = []
    if location.is_dir():
        folders = [
            (p.name, p)
            for p in sorted(location.iterdir())
            if p.is_dir() and not p.name.startswith(("_", "."))
        ]
    for app, folder in [
        *folders,
        *(("vendored:" + k, v) for k, v in sorted((vendored or {}).items())),
    ]:
        for path in migration_files(folder):
            digest.update(f"{app}/{path.name}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_history(location: Path, key: str, vendored: Mapping[str, Path] | None = None) -> History:
    """Load, validate and replay every migration file."""
    loaded = load_migrations(location, None, vendored)
    graph, _ = graph_in_use(loaded)
    return History(
        key=key,
        dependencies={k: m.dependencies for k, m in loaded.items()},
        checksums={k: m.checksum for k, m in loaded.items()},
        state=replay(graph, graph.nodes),
        replaces={k: m.replaces for k, m in loaded.items() if m.replaces},
    )


def history_to_bytes(history: History) -> bytes:
    """Return the cache file of ``history``: a header line, then the JSON payload."""
    payload = json.dumps(
        {
            "key": history.key,
            "dependencies": [[*k, [list(d) for d in v]] for k, v in history.dependencies.items()],
            "checksums": [[*k, v] for k, v in history.checksums.items()],
            "replaces": [[*k, [list(r) for r in v]] for k, v in history.replaces.items()],
            "state": state_to_plain(history.state),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")
    return _header(payload) + payload


def _header(payload: bytes) -> bytes:
    return f"{MAGIC} {CACHE_FORMAT} sha256={hashlib.sha256(payload).hexdigest()}\n".encode()


def _keys(rows: Any) -> dict[Key, list[Key]]:
    return {(app, name): [(a, n) for a, n in keys] for app, name, keys in rows}


def history_from_bytes(data: bytes, key: str) -> History:
    """Return the history stored in ``data``; raise when it is damaged, foreign or stale."""
    header, newline, payload = data.partition(b"\n")
    if not newline or header + newline != _header(payload):
        raise ValueError("not a tortoise-march-ext state cache of this format, or damaged")
    raw = json.loads(payload.decode("utf-8"))
    if raw["key"] != key:
        raise _Stale
    history = History(
        key=key,
        dependencies=_keys(raw["dependencies"]),
        checksums={(app, name): checksum for app, name, checksum in raw["checksums"]},
        state=state_from_plain(raw["state"]),
        replaces=_keys(raw["replaces"]),
    )
    for value in history.checksums.values():
        if type(value) is not str:
            raise ValueError("a checksum is not a string")
    return history


def _read(path: Path, key: str) -> History | None:
    """Return the cached history, or None (a miss) for anything else; never raise."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None  # no cache yet, or no cache folder: a plain miss
    except OSError as exc:
        logger.warning("state cache %s unreadable (%s); replaying the migration files", path, exc)
        return None
    try:
        return history_from_bytes(data, key)
    except _Stale:
        return None
    except Exception as exc:  # anything at all in the file is only a cache miss
        logger.warning(
            "state cache %s ignored (%s: %s); replaying the migration files",
            path,
            type(exc).__name__,
            exc,
        )
        return None


def _write(path: Path, history: History) -> None:
    try:
        data = history_to_bytes(history)
        if history_from_bytes(data, history.key) != history:
            raise PlainError("the state does not read back equal from plain data")
        path.parent.mkdir(exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        fd, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        (path.parent / LEGACY_FILE).unlink(missing_ok=True)
    except (OSError, PlainError) as exc:
        _report_write_failure(path.parent, exc)


def _report_write_failure(folder: Path, exc: Exception) -> None:
    """Log the first failure to write the cache in ``folder`` in this process, no later one."""
    if folder in _write_failures:
        return
    _write_failures.add(folder)
    logger.warning(
        "state cache not written to %s (%s); start-up replays the migration files each time "
        "until it can be written",
        folder,
        exc,
    )


def load_history(
    location: Path, *, use_cache: bool = True, vendored: Mapping[str, Path] | None = None
) -> History:
    """Return the history of the files under ``location`` (and of the ``vendored`` apps), from
    the cache when it is current."""
    key = history_key(location, vendored)
    path = location / CACHE_DIR / CACHE_FILE
    if use_cache and (cached := _read(path, key)) is not None:
        return cached
    history = build_history(location, key, vendored)
    if use_cache and location.is_dir():
        _write(path, history)
    return history
