"""The public API is exactly what ``__all__`` says, and every name in it exists."""

from __future__ import annotations

import tortoise_march_ext as march
from tortoise_march_ext import migrations
from tortoise_march_ext.schema import fields


def test_all_is_pinned() -> None:
    assert sorted(march.__all__) == [
        "DriftReport",
        "ExclusionConstraint",
        "FieldRef",
        "Index",
        "MarchDriftError",
        "MarchDriftWarning",
        "MarchError",
        "Meta",
        "MigrationReport",
        "PostgresExtension",
        "RawSQL",
        "UniqueConstraint",
        "__version__",
        "check",
        "ensure_migrated",
        "install",
        "lifespan",
        "signals",
        "uninstall",
    ]
    for name in march.__all__:
        assert hasattr(march, name)


def test_migration_file_namespaces_export_what_files_use() -> None:
    for name in migrations.__all__:
        assert hasattr(migrations, name), name
    for name in fields.__all__:
        assert hasattr(fields, name), name
    assert issubclass(march.MarchDriftWarning, UserWarning)
