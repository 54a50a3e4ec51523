"""Migration operations: one small class per change, each with the same faces."""

from __future__ import annotations

from .base import ModelOperation, Operation
from .extensions import CreateExtension, DropExtension
from .fields import AddField, AlterField, RemoveField, RenameField
from .indexes import (
    AddConstraint,
    AddIndex,
    AlterUniqueTogether,
    RemoveConstraint,
    RemoveIndex,
    RenameConstraint,
    RenameIndex,
    ValidateConstraint,
)
from .models import (
    AlterModelDescription,
    AlterModelTable,
    CreateModel,
    DeleteModel,
    RenameModel,
)
from .python import RunPython
from .special import RunSQL

__all__ = [
    "AddConstraint",
    "AddField",
    "AddIndex",
    "AlterField",
    "AlterModelDescription",
    "AlterModelTable",
    "AlterUniqueTogether",
    "CreateExtension",
    "CreateModel",
    "DeleteModel",
    "DropExtension",
    "ModelOperation",
    "Operation",
    "RemoveConstraint",
    "RemoveField",
    "RemoveIndex",
    "RenameConstraint",
    "RenameField",
    "RenameIndex",
    "RenameModel",
    "RunPython",
    "RunSQL",
    "ValidateConstraint",
]
