"""The package version (one place, read by the state cache key too)."""

__version__ = "0.1.0"
