"""A cache of what the migration files say, so app start-up need not import and replay them.

Keyed by the library version and the SHA-256 of every migration file's bytes; stored under
``<location>/.march_cache/`` (with its own ``.gitignore``). It is never a source of truth: a
missing, stale or unreadable cache is rebuilt from the files, and deleting it is always safe.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .._version import __version__
from ..engine.executor import replay
from ..engine.replacements import graph_in_use
from ..files.loader import load_migrations, migration_files
from ..schema.state import ProjectState

Key = tuple[str, str]
CACHE_DIR = ".march_cache"
CACHE_FILE = "history.pickle"
CACHE_FORMAT = b"history 3"


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


def history_key(location: Path) -> str:
    """Return the cache key of the migration files under ``location``."""
    digest = hashlib.sha256(__version__.encode() + CACHE_FORMAT)
    if location.is_dir():
        for folder in sorted(p for p in location.iterdir() if p.is_dir()):
            if folder.name.startswith(("_", ".")):
                continue
            for path in migration_files(folder):
                digest.update(f"{folder.name}/{path.name}\0".encode())
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def build_history(location: Path, key: str) -> History:
    """Load, validate and replay every migration file."""
    loaded = load_migrations(location)
    graph, _ = graph_in_use(loaded)
    return History(
        key=key,
        dependencies={k: m.dependencies for k, m in loaded.items()},
        checksums={k: m.checksum for k, m in loaded.items()},
        state=replay(graph, graph.nodes),
        replaces={k: m.replaces for k, m in loaded.items() if m.replaces},
    )


def _read(path: Path, key: str) -> History | None:
    try:
        with path.open("rb") as handle:
            cached = pickle.load(handle)
    except (OSError, pickle.PickleError, EOFError, AttributeError, ImportError, TypeError):
        return None
    return cached if isinstance(cached, History) and cached.key == key else None


def _write(path: Path, history: History) -> None:
    try:
        path.parent.mkdir(exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n", encoding="utf-8")
        fd, temp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(history, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temp, path)
    except OSError:
        pass  # a read-only checkout just goes without the cache


def load_history(location: Path, *, use_cache: bool = True) -> History:
    """Return the history of the files under ``location``, from the cache when it is current."""
    key = history_key(location)
    path = location / CACHE_DIR / CACHE_FILE
    if use_cache and (cached := _read(path, key)) is not None:
        return cached
    history = build_history(location, key)
    if use_cache and location.is_dir():
        _write(path, history)
    return history
