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
        "MarchConfig",
        "MarchDriftError",
        "MarchDriftWarning",
        "MarchError",
        "Meta",
        "MigrationReport",
        "PendingMigrations",
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


def test_result_types_of_the_public_functions_are_exported() -> None:
    from tortoise_march_ext.config import MarchConfig
    from tortoise_march_ext.exceptions import PendingMigrations
    from tortoise_march_ext.runtime.drift import DriftReport
    from tortoise_march_ext.runtime.ensure import MigrationReport

    assert march.MarchConfig is MarchConfig
    assert march.PendingMigrations is PendingMigrations
    assert issubclass(march.PendingMigrations, march.MarchError)
    assert march.DriftReport is DriftReport
    assert march.MigrationReport is MigrationReport
    for function, result in (
        (march.check, "DriftReport"),
        (march.ensure_migrated, "MigrationReport"),
        (march.lifespan.__aenter__, "MigrationReport"),
    ):
        assert function.__annotations__["return"] == result, function


def test_migration_file_namespaces_export_what_files_use() -> None:
    for name in migrations.__all__:
        assert hasattr(migrations, name), name
    for name in fields.__all__:
        assert hasattr(fields, name), name
    assert issubclass(march.MarchDriftWarning, UserWarning)
