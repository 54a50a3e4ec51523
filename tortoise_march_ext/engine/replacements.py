"""Squashed migrations: which of a squash and the migrations it replaces are in use. No I/O.

Django's rule. A squashed migration (``replaces = (...)``) stands in for the migrations it
replaces when none of them is applied (a fresh database) or all of them are (it then counts as
applied); dependencies on a replaced migration point at the squash. When only some are applied,
the old migrations stay in use and the squash is set aside until the database has caught up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from ..exceptions import HistoryError
from ..files.checksum import checksum
from ..files.legacy_checksum import legacy_checksums
from .graph import MigrationGraph

Key = tuple[str, str]


def replaced_by(replaces: Mapping[Key, Sequence[Key]]) -> dict[Key, Key]:
    """Return each replaced migration's squash."""
    return {old: squash for squash, olds in replaces.items() for old in olds}


def apply_replacements(
    dependencies: Mapping[Key, Sequence[Key]],
    replaces: Mapping[Key, Sequence[Key]],
    applied: Iterable[Key] = (),
) -> tuple[dict[Key, list[Key]], set[Key]]:
    """Return the dependencies with each squash or its replaced migrations set aside, and the
    applied set with each squash whose replaced migrations are all applied added."""
    deps = {key: list(parents) for key, parents in dependencies.items()}
    done = set(applied)
    remap: dict[Key, Key] = {}
    for squash in sorted(replaces):
        olds = list(replaces[squash])
        if squash not in deps:
            continue
        applied_olds = [old for old in olds if old in done]
        if squash in done or len(applied_olds) == len(olds):
            done.add(squash)
        elif applied_olds:
            missing = [old for old in olds if old not in deps]
            if missing:
                raise HistoryError(
                    f"squashed migration {_label(squash)} replaces {_names(olds)}; the database "
                    f"applied only {_names(applied_olds)} and the files of {_names(missing)} "
                    "are gone; restore them from version control to migrate past the squash"
                )
            del deps[squash]
            remap[squash] = olds[-1]
            continue
        for old in olds:
            deps.pop(old, None)
            remap[old] = squash
    for key, parents in deps.items():
        deps[key] = sorted({remap.get(p, p) for p in parents} - {key})
    return deps, done


def graph_in_use(
    nodes: Mapping[Key, Any], applied: Iterable[Key] = ()
) -> tuple[MigrationGraph, set[Key]]:
    """Return the validated graph of the loaded migrations ``nodes`` (with ``dependencies`` and
    ``replaces``) as a database that applied ``applied`` uses them, and its applied set."""
    deps = {key: node.dependencies for key, node in nodes.items()}
    replaces = {key: node.replaces for key, node in nodes.items() if node.replaces}
    deps, done = apply_replacements(deps, replaces, applied)
    graph = MigrationGraph({key: nodes[key] for key in deps}, deps)
    graph.validate()
    return graph, done


def _label(key: Key) -> str:
    return f"{key[0]}.{key[1]}"


def _names(keys: Sequence[Key]) -> str:
    return ", ".join(name for _, name in keys)


Legacy = dict[Key, tuple[str, str]]
"""Recorder rows written with the old checksum scheme: ``{key: (recorded, current)}``."""


def check_applied(
    applied: Mapping[Key, str],
    checksums: Mapping[Key, str],
    replaces: Mapping[Key, Sequence[Key]],
    where: Callable[[Key], str] = lambda key: "",
    source: Callable[[Key], str | None] = lambda key: None,
) -> Legacy:
    """Raise HistoryError for an applied migration whose file is missing or changed; return
    the rows recorded with the old checksum scheme whose file is unchanged.

    ``applied`` maps recorded migrations to their recorded checksums, ``checksums`` the files to
    theirs; ``where(key)`` says where a file is (or was expected), ``source(key)`` reads it (for
    rows of the old scheme). A replaced migration may be missing once its squash exists, and
    carries the squash's checksum when the squash applied it.
    """
    squash_of = replaced_by(replaces)
    legacy: Legacy = {}
    for key in sorted(applied):
        squash = squash_of.get(key)
        if key not in checksums:
            if squash in checksums:
                continue
            raise HistoryError(
                f"migration {_label(key)} is applied in the database but its file{where(key)} is "
                "missing; restore it from version control"
            )
        candidates = [k for k in (key, squash) if k is not None and k in checksums]
        if any(applied[key] == checksums[k] for k in candidates):
            continue
        current = next(filter(None, (_current(applied[key], k, source) for k in candidates)), None)
        if current is None:
            raise HistoryError(
                f"migration {_label(key)}{where(key)} changed since it was applied; revert the "
                "change and put new changes in a new migration"
            )
        if current != applied[key]:
            legacy[key] = (applied[key], current)
    return legacy


def recorded_matches(recorded: str, current: str, source: str) -> bool:
    """Return whether the ``recorded`` checksum is the one of ``source`` (whose checksum is
    ``current``), in the current scheme or the old one."""
    return recorded == current or recorded in legacy_checksums(source)


def _current(recorded: str, key: Key, source: Callable[[Key], str | None]) -> str | None:
    """Return the current checksum of the file of ``key`` when ``recorded`` is one of its
    checksums, in either scheme (None otherwise or when the file cannot be read)."""
    text = source(key)
    if text is None:
        return None
    current = checksum(text)
    return current if recorded_matches(recorded, current, text) else None
