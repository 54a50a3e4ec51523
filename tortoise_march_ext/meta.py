"""The opt-in Meta mixin: ``class Meta(march.Meta): ...`` marks a model as tracked.

This is the bottom floor (``schema.extract`` reads it): it imports nothing of the package. The
``Tortoise.init`` wrapper is installed by ``import tortoise_march_ext``, which importing this
module implies.
"""

from __future__ import annotations

from typing import Any


class Meta:
    """Inherit from this in a model's ``Meta`` to have tortoise-march-ext track the model.

    It carries no Tortoise options of its own, so it never changes how Tortoise reads ``Meta``.
    It adds two of ours: ``march_constraints`` (``march.UniqueConstraint``,
    ``march.ExclusionConstraint``) and ``march_extensions`` (``march.PostgresExtension``).
    """

    __march_tracked__ = True
    march_constraints: tuple[Any, ...] = ()
    march_extensions: tuple[Any, ...] = ()


def is_tracked(model: Any) -> bool:
    """Return whether ``model`` opted in through ``march.Meta``."""
    meta = getattr(model, "Meta", None)
    return isinstance(meta, type) and issubclass(meta, Meta)
