"""tortoise-march-ext: readable, reliable migrations for Tortoise ORM.

Public API only; see ``__all__``.
"""

from __future__ import annotations

from .exceptions import MarchDriftWarning, MarchError
from .meta import Meta

__version__ = "0.1.0"

__all__ = ["MarchDriftWarning", "MarchError", "Meta", "__version__"]
