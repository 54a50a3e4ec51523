"""Recorder rows written with the old checksum scheme: rewritten in the new one, said once.

:func:`~tortoise_march_ext.engine.replacements.check_applied` recognises them; ``migrate`` and
``ensure_migrated()`` pass what it found here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from .recorder import Recorder

Key = tuple[str, str]
logger = logging.getLogger("tortoise_march_ext")


async def rewrite_legacy(
    recorder: Callable[[str], Recorder], legacy: Mapping[Key, tuple[str, str]]
) -> int:
    """Rewrite the ``legacy`` rows (``{key: (old, new)}``) through ``recorder(app)``, the
    recorder of each app's connection; log one line when any changed and return how many."""
    by_recorder: dict[int, tuple[Recorder, dict[Key, tuple[str, str]]]] = {}
    for key, pair in legacy.items():
        rec = recorder(key[0])
        by_recorder.setdefault(id(rec), (rec, {}))[1][key] = pair
    changed = 0
    for rec, rows in by_recorder.values():
        changed += await rec.rewrite_checksums(rows)
    if changed:
        logger.warning("%d recorder rows used the old checksum scheme; rewritten", changed)
    return changed
