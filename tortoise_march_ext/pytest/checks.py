"""The four ready checks of the pytest plugin, as plain functions returning what is wrong.

Each takes the project's MarchConfig (the stairway and the schema check: a MarchConfig whose
Tortoise config points at a test database) and returns failure lines, empty when all is well.
The test functions in :mod:`tortoise_march_ext.pytest` turn them into failing tests.
"""

from __future__ import annotations

from ..config import MarchConfig
from ..engine.replacements import graph_in_use
from ..exceptions import MarchError
from ..files.loader import load_migrations
from ..project import open_project

RUN = "python -m tortoise_march_ext"


async def missing_migrations(config: MarchConfig) -> list[str]:
    """Return one line per model change no migration file holds yet."""
    from ..commands.migrate import check

    report = await check(config, database=False)
    if not report.differences:
        return []
    return [
        "models differ from the migration files; run "
        f"`{RUN} makemigrations` to write the missing migration(s):",
        *(f"  {line}" for line in report.differences),
    ]


def several_leaves(config: MarchConfig) -> list[str]:
    """Return one line per app whose history has more than one latest migration."""
    loaded = load_migrations(config.migrations_dir, None, config.vendored_dirs)
    graph, _ = graph_in_use(loaded, ())
    lines = []
    for app in graph.apps():
        leaves = graph.leaves(app)
        if len(leaves) > 1:
            names = ", ".join(name for _, name in leaves)
            lines.append(
                f"app {app} has {len(leaves)} latest migrations ({names}); run "
                f"`{RUN} makemigrations --merge` to join them"
            )
    return lines


async def stairway(config: MarchConfig) -> tuple[list[str], list[str]]:
    """Apply, unapply and apply again each migration, one at a time, on an empty database.

    Return the failure lines (the first failing migration stops the walk) and the names of the
    irreversible migrations whose unapply was skipped.
    """
    skipped: list[str] = []
    async with open_project(config) as project:
        executor = project.executor()
        applied: set[tuple[str, str]] = set()
        for key in project.graph.topological():
            node = project.graph.nodes[key]
            label = f"{key[0]}.{key[1]}"
            reversible = all(op.reversible for op in node.operations)
            phases = ("apply", "unapply", "apply again") if reversible else ("apply",)
            if not reversible:
                skipped.append(label)
            for phase in phases:
                backwards = phase == "unapply"
                try:
                    steps = executor.build_steps([key], applied, backwards=backwards)
                    await executor.run(steps)
                except (MarchError, Exception) as exc:
                    where = node.path if node.path else label
                    return [
                        f"migration {label} ({where}) failed to {phase} in the stairway test "
                        f"(apply, unapply, apply again, one migration at a time): "
                        f"{type(exc).__name__}: {' '.join(str(exc).split())}; fix its "
                        "operations or their reverse, then check with "
                        f"`{RUN} migrate {key[0]} <previous>` and `{RUN} migrate`"
                    ], skipped
                applied = applied - {key} if backwards else applied | {key}
    return [], skipped


async def schema_mismatches(config: MarchConfig) -> list[str]:
    """Return the ``check --schema`` lines of a database migrated to the latest migrations."""
    from ..commands.schema_check import check_schema

    result = await check_schema(config)
    if not result.differences:
        return []
    return [
        "the migrated test database differs from what the migrations' state builds (a RunSQL "
        "or a hand-made change the operations do not describe?); "
        f"`{RUN} check --schema` lists the same on a database:",
        *(f"  {line}" for line in result.differences),
    ]
