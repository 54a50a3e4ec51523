"""Signals: ``pre_migrate``, ``post_migrate`` and ``drift_detected``.

Register handlers with a decorator, as in ``tortoise.signals``::

    @march.signals.post_migrate
    async def announce(*, plan, connection, migration=None, **kwargs): ...

``pre_migrate``/``post_migrate`` are sent once per run (``migration=None``) and once per migration
(``migration="app.name"``); ``drift_detected`` with ``report``. Handlers may be sync or async. A
handler that raises fails the run with a message naming the handler.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, TypeVar

from ..exceptions import MarchError

Handler = TypeVar("Handler", bound=Callable[..., Any])


class SignalError(MarchError):
    """A signal handler raised."""


class Signal:
    """A list of handlers called with keyword arguments."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.handlers: list[Callable[..., Any]] = []

    def __call__(self, handler: Handler) -> Handler:
        """Register ``handler`` (usable as a decorator) and return it."""
        return self.connect(handler)

    def connect(self, handler: Handler) -> Handler:
        """Register ``handler`` once."""
        if handler not in self.handlers:
            self.handlers.append(handler)
        return handler

    def disconnect(self, handler: Callable[..., Any]) -> None:
        """Unregister ``handler`` if it is registered."""
        if handler in self.handlers:
            self.handlers.remove(handler)

    async def send(self, **kwargs: Any) -> None:
        """Call every handler in registration order."""
        for handler in list(self.handlers):
            try:
                result = handler(**kwargs)
                if inspect.isawaitable(result):
                    await result
            except Exception as exc:
                module = getattr(handler, "__module__", "?")
                name = f"{module}.{getattr(handler, '__qualname__', handler)}"
                raise SignalError(
                    f"{self.name} handler {name} raised {type(exc).__name__}: {exc}"
                ) from exc


pre_migrate = Signal("pre_migrate")
post_migrate = Signal("post_migrate")
drift_detected = Signal("drift_detected")

__all__ = ["Signal", "SignalError", "drift_detected", "post_migrate", "pre_migrate"]
